import type { Command } from 'commander';

// Placeholder until the 'verify' command lands; replaced by its owner.
export function register(program: Command): void {
  program.command('verify').description('(not built yet)').action(() => {
    throw new Error("'falign verify' is not built yet");
  });
}
