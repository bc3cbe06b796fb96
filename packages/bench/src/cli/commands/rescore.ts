import type { Command } from 'commander';

// Placeholder until the 'rescore' command lands; replaced by its owner.
export function register(program: Command): void {
  program.command('rescore').description('(not built yet)').action(() => {
    throw new Error("'falign rescore' is not built yet");
  });
}
