/**
 * `falign serve`: an OpenAI-compatible endpoint (/v1/completions, /v1/chat/completions,
 * /v1/models) for an in-process model. Concurrent requests with the same sampling settings are
 * merged into one generate call (`--max-batch` sequences at most).
 *
 *   falign serve --model llama2c:stories260K.bin --port 8000
 */
import { basename } from 'node:path';
import type { Command } from 'commander';
import { chatTemplateFromFile, defaultChatTemplate } from '../../server/chat-template.js';
import { startServer } from '../../server/app.js';
import { loadServablePolicy } from '../../server/load-policy.js';
import { BACKEND_HELP, intArg, parseBackend, markRequiredInHelp } from '../options.js';

/** Model id shown to clients: the file/dir name without extension unless --name is given. */
function defaultModelId(spec: string): string {
  const path = spec.replace(/^[a-z0-9]+:/, '').replace(/[\\/]+$/, '');
  return basename(path).replace(/\.bin$/, '') || 'model';
}

export function register(program: Command): void {
  markRequiredInHelp(program.command('serve'))
    .description('serve an in-process model (llama2c:PATH.bin or falign:DIR) over an OpenAI-compatible HTTP API')
    .requiredOption('--model <spec>', 'llama2c:PATH.bin or falign:DIR')
    .option('--port <n>', 'port (0 picks a free one)', intArg('--port', 0), 8000)
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--name <id>', 'model id clients use (default: file or directory name)')
    .option('--tokenizer <path>', 'tokenizer file (llama2.c tokenizer.bin or falign tokenizer.json); default: beside the model')
    .option('--backend <name>', BACKEND_HELP)
    .option('--max-batch <n>', 'requests merged into one generate call, counted in sequences (prompts x n); a bigger request runs alone', intArg('--max-batch', 1), 32)
    .option('--batch-window-ms <ms>', 'shortest wait for requests to batch together (0 = none)', intArg('--batch-window-ms', 0), 5)
    .option('--batch-max-window-ms <ms>', 'longest wait; the wait adapts to 10% of the last batch time', intArg('--batch-max-window-ms', 0), 50)
    .option('--chat-template <file>', 'chat template: a Jinja file, or a tokenizer_config.json with chat_template (default: a "User:/Assistant:" transcript)')
    .option('--no-truncate-prompt', 'answer 400 when prompt + max_tokens exceed the context, instead of dropping the oldest prompt tokens like in-process evaluation does')
    .option('--quiet', 'no per-request log lines on stderr')
    .option('--json', 'print one JSON line {url, model, port} instead of the human line')
    .action(async (o: {
      model: string; port: number; host: string; name?: string; tokenizer?: string; backend?: string;
      maxBatch: number; batchWindowMs: number; batchMaxWindowMs: number; chatTemplate?: string; truncatePrompt: boolean; quiet?: boolean; json?: boolean;
    }) => {
      const backend = parseBackend(o.backend);
      const chatTemplate = o.chatTemplate ? chatTemplateFromFile(o.chatTemplate) : defaultChatTemplate;
      const policy = await loadServablePolicy(o.model, { tokenizer: o.tokenizer, backend });
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
