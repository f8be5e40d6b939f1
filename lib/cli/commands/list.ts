// Listing commands: modules, module info, slots, tokens, mechanisms and objects.
import type { Command } from 'commander';
import { Module, formatUri, matchesToken } from '../../index';
import type { CommonOptions } from '../context';
import { describeObject, keyDetail, keyTypeDetail, withCommon, withTarget } from '../common';
import { printFields, printJson, printTable } from '../output';

export function registerListCommands(program: Command): void {
  withCommon(program.command('list-modules').description('modules installed here (p11-kit configs, well-known paths)'), { token: false })
    .option('--all', 'also modules p11-kit would not load, and missing files')
    .action(async (o: CommonOptions & { all?: boolean }) => {
      const found = await Module.discover({ includeDisabled: !!o.all });
      const list = o.all ? found : found.filter((m) => m.exists && m.enabled);
      if (o.json) return printJson(list);
      printTable(
        [
          ['name', 'NAME'],
          ['path', 'PATH'],
          ['source', 'SOURCE'],
          ['enabled', 'ENABLED'],
          ['exists', 'EXISTS'],
        ],
        list as unknown as Record<string, unknown>[],
      );
    });

  withCommon(program.command('info [uri]').description('module information (C_GetInfo, interfaces)'), { token: false }).action(async (uri: string | undefined, o: CommonOptions) =>
    withTarget(uri, o, async (t) => {
      const info = await t.mod.info();
      const interfaces = await t.mod.interfaces();
      if (o.json) return printJson({ ...info, interfaces });
      printFields([
        ['path', info.path],
        ['cryptoki version', info.cryptokiVersion],
        ['manufacturer', info.manufacturerID],
        ['description', info.description],
        ['library version', info.libraryVersion],
        ['functions', info.functionCount],
        ['interfaces', interfaces.map((i) => `${i.name} ${i.version.major}.${i.version.minor}`).join(', ') || '(none: PKCS#11 2.x)'],
      ]);
    }),
  );

  withCommon(program.command('list-slots [uri]').description('slots (C_GetSlotList, C_GetSlotInfo)'), { token: false })
    .option('--all', 'also slots without a token')
    .action(async (uri: string | undefined, o: CommonOptions & { all?: boolean }) =>
      withTarget(uri, o, async (t) => {
        const rows = [];
        for (const s of await t.mod.slots({ tokenPresent: !o.all })) rows.push({ id: s.id, ...(await s.info()) });
        if (o.json) return printJson(rows);
        printTable(
          [
            ['id', 'ID'],
            ['token', 'TOKEN'],
            ['manufacturerID', 'MANUFACTURER'],
            ['description', 'DESCRIPTION'],
          ],
          rows.map((r) => ({ ...r, token: r.flags.tokenPresent })),
        );
      }),
    );

  withCommon(program.command('list-tokens [uri]').description('tokens (C_GetTokenInfo), with their URIs'), { token: false }).action(
    async (uri: string | undefined, o: CommonOptions) =>
      withTarget(uri, o, async (t) => {
        const rows = [];
        for (const s of await t.mod.slots()) {
          const info = await s.tokenInfo();
          if (!matchesToken(t.uri, info)) continue;
          // With the module's path, so the URI works again on its own (list-objects <uri>).
          rows.push({
            slot: s.id,
            ...info,
            uri: formatUri({ token: info.label, manufacturer: info.manufacturerID, serial: info.serialNumber, model: info.model, modulePath: t.mod.path }),
          });
        }
        if (o.json) return printJson(rows);
        printTable(
          [
            ['slot', 'SLOT'],
            ['label', 'LABEL'],
            ['manufacturerID', 'MANUFACTURER'],
            ['model', 'MODEL'],
            ['serialNumber', 'SERIAL'],
            ['state', 'STATE'],
            ['uri', 'URI'],
          ],
          rows.map((r) => ({
            ...r,
            state: !r.flags.tokenInitialized ? 'uninitialized' : r.flags.userPinLocked ? 'PIN locked' : r.flags.userPinInitialized ? 'ready' : 'no user PIN',
          })),
        );
      }),
  );

  withCommon(program.command('list-mechanisms [uri]').description("the token's mechanisms (C_GetMechanismList, C_GetMechanismInfo)")).action(
    async (uri: string | undefined, o: CommonOptions) =>
      withTarget(uri, o, async (t) => {
        const mechs = await (await t.slot()).mechanisms();
        if (o.json) return printJson(mechs);
        printTable(
          [
            ['name', 'MECHANISM'],
            ['keySizes', 'KEY SIZES'],
            ['uses', 'FLAGS'],
          ],
          mechs.map((m) => ({
            name: m.name,
            keySizes: `${String(m.minKeySize)}-${String(m.maxKeySize)}`,
            uses: Object.entries(m.flags)
              .filter(([, v]) => v)
              .map(([k]) => k)
              .join(','),
          })),
        );
      }),
  );

  withCommon(program.command('list-objects [uri]').description("the token's objects (filtered by the URI's object, id and type)"), { pin: true })
    .option('--login', 'log in first (asks for the PIN when no source is given)')
    .option('--no-public-keys', 'leave SPKI PEM public keys out of --json')
    .action(async (uri: string | undefined, o: CommonOptions & { publicKeys: boolean }) =>
      withTarget(uri, o, async (t) => {
        const session = await t.session({ login: 'optional' });
        if (session.slot.loginState !== 'user' && !o.quiet) {
          process.stderr.write('note: private objects are not listed without a login (give --pin-source or --login)\n');
        }
        const rows = [];
        for (const obj of await t.findObjects(session)) rows.push(await describeObject(t, obj, o.json === true && o.publicKeys));
        if (o.json) return printJson(rows);
        printTable(
          [
            ['class', 'CLASS'],
            ['keyType', 'TYPE'],
            ['detail', 'SIZE'],
            ['label', 'LABEL'],
            ['id', 'ID'],
            ['uri', 'URI'],
          ],
          rows.map((r) => ({ ...r, keyType: keyTypeDetail(r), detail: keyDetail(r) })),
        );
      }),
    );
}
