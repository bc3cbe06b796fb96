import type { Command } from 'commander';

// Placeholder until the 'generate' command lands; replaced by its owner.
export function register(program: Command): void {
  program.command('generate').description('(not built yet)').action(() => {
    throw new Error("'falign generate' is not built yet");
  });
}
