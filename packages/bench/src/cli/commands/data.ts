import type { Command } from 'commander';

// Placeholder until the 'data' command lands; replaced by its owner.
export function register(program: Command): void {
  program.command('data').description('(not built yet)').action(() => {
    throw new Error("'falign data' is not built yet");
  });
}
