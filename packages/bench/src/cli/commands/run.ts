import type { Command } from 'commander';

// Placeholder until the 'run' command lands; replaced by its owner.
export function register(program: Command): void {
  program.command('run').description('(not built yet)').action(() => {
    throw new Error("'falign run' is not built yet");
  });
}
