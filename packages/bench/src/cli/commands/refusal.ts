import type { Command } from 'commander';

// Placeholder until the 'refusal' command lands; replaced by its owner.
export function register(program: Command): void {
  program.command('refusal').description('(not built yet)').action(() => {
    throw new Error("'falign refusal' is not built yet");
  });
}
