// Token administration: init-token, init-pin, unlock-pin, change-pin.
import type { Command } from 'commander';
import { formatUri } from '../../index';
import type { CommonOptions } from '../context';
import { withCommon, withTarget } from '../common';
import { UsageError } from '../errors';
import { noAdminPinError, obtainAdminPin, pinBuffer } from '../pin';
import { printJson } from '../output';

export function registerAdminCommands(program: Command): void {
  // Token administration. PINs come from file:/env: sources or a prompt (a new PIN is asked twice),
  // are wiped after use and never printed.
  const soPinOption = '--so-pin-source <source>';
  const newPinOption = '--new-pin-source <source>';

  withCommon(program.command('init-token <uri>').description('initializes (erases!) a token: C_InitToken with the SO PIN and a label; needs --yes'))
    .requiredOption('--label <label>', 'the new token label (at most 32 bytes)')
    .option(soPinOption, 'SO PIN from file:/path or env:VAR (else a prompt). A fresh token takes it as its new SO PIN; an initialized one needs its current SO PIN')
    .option('--yes', 'confirms that every object on the token is destroyed')
    .addHelpText('after', '\nWith no --slot, --token or token attributes in the URI, the only uninitialized token is chosen.\nThen set the user PIN with init-pin.')
    .action(async (uri: string, o: CommonOptions & { label: string; soPinSource?: string; yes?: boolean }) => {
      if (!o.yes) throw new UsageError('init-token erases the token and every object on it: add --yes to go ahead');
      if (Buffer.byteLength(o.label, 'utf8') > 32) throw new UsageError('--label: a token label is at most 32 bytes');
      return withTarget(uri, o, async (t) => {
        const slot = await t.slot({ uninitialized: true });
        const before = await slot.tokenInfo();
        const name = before.flags.tokenInitialized ? `token '${before.label}'` : `the token in slot ${String(slot.id)}`;
        const soPin = await obtainAdminPin(o.soPinSource, `SO PIN for ${name}: `, !before.flags.tokenInitialized);
        if (!soPin) throw noAdminPinError('the SO PIN', '--so-pin-source');
        try {
          await slot.initToken(soPin, o.label);
        } finally {
          soPin.fill(0);
        }
        const info = await slot.tokenInfo();
        const tokenUri = formatUri({ token: info.label, manufacturer: info.manufacturerID, serial: info.serialNumber, model: info.model });
        if (o.json) return printJson({ slot: slot.id, label: info.label, serialNumber: info.serialNumber, uri: tokenUri });
        process.stdout.write(`initialized token '${info.label}' (serial ${info.serialNumber}): ${tokenUri}\n`);
      });
    });

  /** init-pin and unlock-pin: the SO logs in and sets the user PIN (C_InitPIN). */
  const initUserPin =
    (verb: string) =>
    async (uri: string, o: CommonOptions & { soPinSource?: string; newPinSource?: string }): Promise<void> =>
      withTarget(uri, o, async (t) => {
        const slot = await t.slot();
        const label = (await slot.tokenInfo()).label;
        const session = await t.session({ write: true, login: 'never' });
        const soPin = await obtainAdminPin(o.soPinSource, `SO PIN for token '${label}': `);
        if (!soPin) throw noAdminPinError('the SO PIN', '--so-pin-source');
        try {
          await session.login(soPin, { user: 'so' });
        } finally {
          soPin.fill(0);
        }
        const newPin = await obtainAdminPin(o.newPinSource, `New user PIN for token '${label}': `, true);
        if (!newPin) throw noAdminPinError('the new user PIN', '--new-pin-source');
        try {
          await session.initPin(newPin);
        } finally {
          newPin.fill(0);
        }
        await session.logout();
        if (o.json) return printJson({ token: label, userPin: verb });
        process.stdout.write(`user PIN ${verb} on token '${label}'\n`);
      });

  withCommon(program.command('init-pin <uri>').description('sets the user PIN: the SO logs in (--so-pin-source) and calls C_InitPIN with the new PIN'))
    .option(soPinOption, 'SO PIN from file:/path or env:VAR (else a prompt)')
    .option(newPinOption, 'the new user PIN from file:/path or env:VAR (else a prompt, twice)')
    .action(initUserPin('set'));

  withCommon(program.command('unlock-pin <uri>').description('unlocks a locked (or forgotten) user PIN: the SO logs in and sets a new user PIN (C_InitPIN), as init-pin does'))
    .option(soPinOption, 'SO PIN from file:/path or env:VAR (else a prompt)')
    .option(newPinOption, 'the new user PIN from file:/path or env:VAR (else a prompt, twice)')
    .action(initUserPin('reset'));

  withCommon(program.command('change-pin <uri>').description('changes the user PIN (or with --so the SO PIN): C_SetPIN with the current and the new PIN'), { pin: true })
    .option('--so', 'change the SO PIN (the current one from --so-pin-source or --pin-source)')
    .option(soPinOption, 'with --so: the current SO PIN from file:/path or env:VAR')
    .option(newPinOption, 'the new PIN from file:/path or env:VAR (else a prompt, twice)')
    .action(async (uri: string, o: CommonOptions & { so?: boolean; soPinSource?: string; newPinSource?: string }) => {
      if (o.so && o.soPinSource !== undefined && o.pinSource !== undefined)
        throw new UsageError('change-pin --so: give the current SO PIN with --so-pin-source or --pin-source, not both');
      if (!o.so && o.soPinSource !== undefined) throw new UsageError('--so-pin-source is for change-pin --so; the current user PIN comes from --pin-source');
      return withTarget(uri, o, async (t) => {
        const slot = await t.slot();
        const label = (await slot.tokenInfo()).label;
        const who = o.so ? 'SO' : 'user';
        // The user's current PIN may also come from the URI's pin-source / pin-value.
        const oldSource = o.so ? (o.soPinSource ?? o.pinSource) : (o.pinSource ?? t.uri.pinSource);
        let oldPin = await obtainAdminPin(oldSource, `Current ${who} PIN for token '${label}': `);
        if (!oldPin && !o.so && oldSource === undefined && t.uri.pinValue !== undefined) oldPin = pinBuffer(Buffer.from(t.uri.pinValue, 'utf8'));
        if (!oldPin) throw noAdminPinError(`the current ${who} PIN`, o.so ? '--so-pin-source' : '--pin-source');
        let newPin: Buffer | undefined;
        try {
          newPin = await obtainAdminPin(o.newPinSource, `New ${who} PIN for token '${label}': `, true);
          if (!newPin) throw noAdminPinError(`the new ${who} PIN`, '--new-pin-source');
          const session = await t.session({ write: true, login: 'never' });
          // C_SetPIN changes the PIN of who is logged in; in a R/W public session, the user's.
          if (o.so) await session.login(oldPin, { user: 'so' });
          await session.setPin(oldPin, newPin);
          if (o.so) await session.logout();
        } finally {
          oldPin.fill(0);
          newPin?.fill(0);
        }
        if (o.json) return printJson({ token: label, changed: who });
        process.stdout.write(`${who} PIN changed on token '${label}'\n`);
      });
    });
}
