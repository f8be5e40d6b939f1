// The `p11bridge` command: PKCS#11 modules, tokens, objects and operations from the shell.
//   p11bridge list-tokens --module /usr/lib/softhsm/libsofthsm2.so
//   p11bridge sign 'pkcs11:token=t;object=k1?module-name=softhsm2' data.bin --pin-source env:PIN
// Exit codes: 0 ok, 1 error, 2 PKCS#11 error (stderr: `error: CKR_X (C_Fn)`), 3 invalid signature, 64 usage.
// With --json, errors are `{ "error": { rvName, function, message } }` on stdout, same exit codes.
import { Command, CommanderError } from 'commander';
import { describeError, errorDetails, EXIT } from './errors';
import { registerAdminCommands } from './commands/admin';
import { registerBenchCommand } from './commands/bench';
import { registerCipherCommands } from './commands/cipher';
import { registerDocumentCommands } from './commands/documents';
import { registerDoctorCommand } from './commands/doctor';
import { registerKeyCommands } from './commands/keys';
import { registerListCommands } from './commands/list';
import { registerObjectCommands } from './commands/objects';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const VERSION = (require('../../package.json') as { version: string }).version;

export function buildProgram(): Command {
  const program = new Command('p11bridge');
  program
    .description('PKCS#11 modules, tokens and keys from the command line (p11bridge)')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (str) => process.stderr.write(str) })
    .addHelpText(
      'after',
      `
Objects and tokens are named by PKCS#11 URIs (RFC 7512), e.g.
  'pkcs11:token=my-token;object=k1;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so'
Exit codes: 0 ok, 1 error, 2 PKCS#11 error (CKR_… on stderr), 3 invalid signature, 64 usage.`,
    );

  registerListCommands(program);
  registerKeyCommands(program);
  registerObjectCommands(program);
  registerCipherCommands(program);
  registerBenchCommand(program);
  registerAdminCommands(program);
  registerDoctorCommand(program);
  registerDocumentCommands(program);
  return program;
}

/**
 * A reader that stops early (`p11bridge list-objects … | head`) closes the pipe: like other
 * Unix tools, end quietly instead of dying on the unhandled EPIPE.
 */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  if (stream.listenerCount('error') > 0) return;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok);
    throw e;
  });
}

/** Runs the command line; resolves to the exit code. */
export async function main(argv: readonly string[] = process.argv): Promise<number> {
  quietOnClosedPipe(process.stdout);
  const program = buildProgram();
  // --json anywhere on the line: errors are JSON on stdout too (docs/cli.md), also a usage error
  // commander finds before any command runs.
  const json = argv.slice(2).includes('--json');
  try {
    await program.parseAsync(argv as string[]);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; commander printed its own message for usage errors
      if (e.exitCode === 0) return EXIT.ok;
      if (json) printJsonError({ rvName: null, function: null, message: e.message.replace(/^error: /, '') });
      return EXIT.usage;
    }
    const d = errorDetails(e);
    if (json) {
      const { exitCode: _exit, ...error } = d;
      printJsonError(error);
      return d.exitCode;
    }
    const { message, exitCode } = describeError(e);
    process.stderr.write(message + '\n');
    if (process.env.P11BRIDGE_DEBUG && e instanceof Error && !('rvName' in e)) process.stderr.write(String(e.stack) + '\n');
    return exitCode;
  }
}

function printJsonError(error: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ error }, null, 2) + '\n');
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
