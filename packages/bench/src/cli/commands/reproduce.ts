import type { Command } from 'commander';

// Placeholder until the 'reproduce' command lands; replaced by its owner.
export function register(program: Command): void {
  program.command('reproduce').description('(not built yet)').action(() => {
    throw new Error("'falign reproduce' is not built yet");
  });
}
