import type { Command } from 'commander';

// Placeholder until the 'eval' command lands; replaced by its owner.
export function register(program: Command): void {
  program.command('eval').description('(not built yet)').action(() => {
    throw new Error("'falign eval' is not built yet");
  });
}
