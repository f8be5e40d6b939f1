// The `p11bridge` command: PKCS#11 modules, tokens, objects and operations from the shell.
//   p11bridge list-tokens --module /usr/lib/softhsm/libsofthsm2.so
//   p11bridge sign 'pkcs11:token=t;object=k1?module-name=softhsm2' data.bin --pin-source env:PIN
// Exit codes: 0 ok, 1 error, 2 PKCS#11 error (stderr: `error: CKR_X (C_Fn)`), 3 invalid signature, 64 usage.
import { Command, CommanderError } from 'commander';
import { describeError, EXIT } from './errors';
import { registerAdminCommands } from './commands/admin';
import { registerBenchCommand } from './commands/bench';
import { registerCipherCommands } from './commands/cipher';
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
  try {
    await program.parseAsync(argv as string[]);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; commander printed its own message for usage errors
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const { message, exitCode } = describeError(e);
    process.stderr.write(message + '\n');
    if (process.env.P11BRIDGE_DEBUG && e instanceof Error && !('rvName' in e)) process.stderr.write(String(e.stack) + '\n');
    return exitCode;
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
