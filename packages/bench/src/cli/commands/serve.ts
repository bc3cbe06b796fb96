import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { BackendName } from '@falign/core';
import { defaultChatTemplate, jinjaChatTemplate } from '../../server/chat-template.js';
import { startServer } from '../../server/app.js';
import { loadServablePolicy } from '../../server/load-policy.js';

function intArg(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };
}

/** Model id shown to clients: the file/dir name without extension unless --name is given. */
function defaultModelId(spec: string): string {
  const path = spec.replace(/^[a-z0-9]+:/, '').replace(/[\\/]+$/, '');
  return basename(path).replace(/\.bin$/, '') || 'model';
}

/** `falign serve`: an OpenAI-compatible endpoint for an in-process model. */
export function register(program: Command): void {
  program
    .command('serve')
    .description('Serve an in-process model (llama2c:PATH or falign:DIR) over an OpenAI-compatible HTTP API')
    .requiredOption('--model <spec>', 'model spec: llama2c:PATH.bin or falign:DIR')
    .option('--port <n>', 'port (0 picks a free one)', intArg('--port', 0), 8000)
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--name <id>', 'model id clients use (default: file or directory name)')
    .option('--tokenizer <path>', 'tokenizer file for llama2c checkpoints')
    .option('--backend <name>', 'tfjs backend: cpu | wasm | webgpu | tensorflow')
    .option('--max-batch <n>', 'most sequences per batched generate call', intArg('--max-batch', 1), 32)
    .option('--batch-window-ms <ms>', 'shortest wait for requests to batch together (0 = none)', intArg('--batch-window-ms', 0), 5)
    .option('--batch-max-window-ms <ms>', 'longest wait; the wait adapts to 10% of the last batch time', intArg('--batch-max-window-ms', 0), 50)
    .option('--chat-template <file>', 'Jinja chat template (HF chat_template syntax) replacing the default "User:/Assistant:" transcript')
    .option('--no-truncate-prompt', 'answer 400 when prompt + max_tokens exceed the context, instead of dropping the oldest prompt tokens like in-process evaluation does')
    .option('--quiet', 'no per-request log lines on stderr')
    .option('--json', 'print one JSON line {url, model, port} instead of the human line')
    .action(async (o: {
      model: string; port: number; host: string; name?: string; tokenizer?: string; backend?: string;
      maxBatch: number; batchWindowMs: number; batchMaxWindowMs: number; chatTemplate?: string; truncatePrompt: boolean; quiet?: boolean; json?: boolean;
    }) => {
      const chatTemplate = o.chatTemplate
        ? jinjaChatTemplate(readFileSync(o.chatTemplate, 'utf8'), o.chatTemplate)
        : defaultChatTemplate;
      const policy = await loadServablePolicy(o.model, { tokenizer: o.tokenizer, backend: o.backend as BackendName | undefined });
      const modelId = o.name ?? defaultModelId(o.model);
      const server = await startServer({
        policy,
        modelId,
        host: o.host,
        port: o.port,
        maxBatch: o.maxBatch,
        batchWindowMs: o.batchWindowMs,
        batchMaxWindowMs: o.batchMaxWindowMs,
        chatTemplate,
        truncatePrompt: o.truncatePrompt,
        log: o.quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
      });
      if (o.json) process.stdout.write(`${JSON.stringify({ url: server.url, model: modelId, port: server.port })}\n`);
      else process.stdout.write(`falign serve: ${modelId} listening on ${server.url} (model spec openai:${server.url}#${modelId})\n`);

      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: string): void => {
          if (stopping) {
            process.stderr.write(`falign serve: second ${signal}, exiting now\n`);
            process.exit(130);
          }
          stopping = true;
          process.stderr.write(`falign serve: ${signal}, finishing in-flight requests...\n`);
          void server.close().then(() => {
            policy.dispose?.();
            resolve();
          });
        };
        process.on('SIGINT', () => stop('SIGINT'));
        process.on('SIGTERM', () => stop('SIGTERM'));
      });
      process.stderr.write('falign serve: stopped\n');
    });
}
