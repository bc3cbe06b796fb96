import type { Command } from 'commander';

// Placeholder until the 'train' command lands; replaced by its owner.
export function register(program: Command): void {
  program.command('train').description('(not built yet)').action(() => {
    throw new Error("'falign train' is not built yet");
  });
}
