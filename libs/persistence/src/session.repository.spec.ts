import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChannelRepository } from './channel.repository';
import { ConferenceRepository } from './conference.repository';
import { Database, PersistenceError } from './database';
import { SessionRepository } from './session.repository';

// A real SQLite file in a temporary directory.
describe('conference and session state', () => {
  let dir: string;
  let file: string;
  let db: Database;
  let conferences: ConferenceRepository;
  let sessions: SessionRepository;
  const settings = { video: { width: 640, height: 360, fps: 25 } };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gw-db-'));
    file = join(dir, 'gateway.db');
    db = new Database(file);
    conferences = new ConferenceRepository(db);
    sessions = new SessionRepository(db);
    const channels = new ChannelRepository(db);
    channels.insert({ id: 'studio', title: 'Studio', publishKey: 'k', createdAt: 1 });
    channels.insert({ id: 'meet', title: 'Meet', publishKey: 'k2', createdAt: 2 });
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps conferences, members, push points, mappings and sessions across reopening the file', () => {
    conferences.insert({ id: 'conf_a', title: 'A', hostUserId: 'host', createdAt: 10 }, ['g1']);
    conferences.addMember('conf_a', 'g2');
    conferences.addMember('conf_a', 'g2'); // idempotent
    conferences.insert({ id: 'conf_b', title: 'B', createdAt: 11 }, []);
    conferences.insertIngestPoint({ stream: 'in-1', publishKey: 'secret', conferenceId: 'conf_a', userId: 'g1' });
    sessions.saveMapping({ conferenceId: 'conf_b', channelId: 'meet', onDemand: true, layout: { mode: 'grid' }, createdAt: 12 });
    sessions.saveMapping({ conferenceId: 'conf_b', channelId: 'meet', onDemand: false, layout: { mode: 'speaker' }, createdAt: 13 });
    sessions.saveCohostSession({ channelId: 'studio', conferenceId: 'conf_a', hostUserId: 'host', mixMode: 'server', mixSettings: settings, startedAt: 14 });
    sessions.addCohostGuest('studio', 'g1');
    sessions.addCohostGuest('studio', 'g2');
    sessions.removeCohostGuest('studio', 'g2');
    sessions.setCohostMode('studio', 'client');
    db.close();

    db = new Database(file);
    conferences = new ConferenceRepository(db);
    sessions = new SessionRepository(db);
    expect(conferences.list()).toEqual([
      { id: 'conf_a', title: 'A', hostUserId: 'host', createdAt: 10, members: ['g1', 'g2'] },
      { id: 'conf_b', title: 'B', createdAt: 11, members: [] },
    ]);
    expect(conferences.ingestPoints()).toEqual([{ stream: 'in-1', publishKey: 'secret', conferenceId: 'conf_a', userId: 'g1', kind: 'camera' }]);
    conferences.insertIngestPoint({ stream: 'in-2', publishKey: 'secret2', conferenceId: 'conf_a', userId: 'slides', kind: 'screen' });
    expect(conferences.ingestPoints().find((p) => p.stream === 'in-2')).toMatchObject({ userId: 'slides', kind: 'screen' });
    expect(sessions.mappings()).toEqual([{ conferenceId: 'conf_b', channelId: 'meet', onDemand: false, layout: { mode: 'speaker' }, createdAt: 12 }]);
    expect(sessions.cohostSessions()).toEqual([
      { channelId: 'studio', conferenceId: 'conf_a', hostUserId: 'host', mixMode: 'client', mixSettings: settings, startedAt: 14, guests: ['g1'] },
    ]);
  });

  it('deleting a conference deletes what hangs off it', () => {
    conferences.insert({ id: 'conf_a', title: 'A', createdAt: 10 }, ['g1']);
    conferences.insertIngestPoint({ stream: 'in-1', publishKey: 'secret', conferenceId: 'conf_a', userId: 'g1' });
    sessions.saveCohostSession({ channelId: 'studio', conferenceId: 'conf_a', hostUserId: 'host', mixMode: 'server', mixSettings: settings, startedAt: 14 });
    sessions.addCohostGuest('studio', 'g1');
    conferences.delete('conf_a');
    expect(conferences.list()).toEqual([]);
    expect(conferences.ingestPoints()).toEqual([]);
    expect(sessions.cohostSessions()).toEqual([]);
    expect(db.all('count', 'SELECT * FROM cohost_guests')).toEqual([]);
    expect(db.all('count', 'SELECT * FROM conference_members')).toEqual([]);
  });

  it('writes all of a transaction or none of it', () => {
    conferences.insert({ id: 'conf_a', title: 'A', createdAt: 10 }, []);
    sessions.saveCohostSession({ channelId: 'studio', conferenceId: 'conf_a', hostUserId: 'host', mixMode: 'server', mixSettings: settings, startedAt: 14 });
    expect(() =>
      sessions.atomically('seat', () => {
        sessions.addCohostGuest('studio', 'g1');
        conferences.addMember('conf_a', 'g1');
        throw new Error('crash between the writes');
      }),
    ).toThrow(PersistenceError);
    expect(sessions.cohostSessions()[0].guests).toEqual([]);
    expect(conferences.list()[0].members).toEqual([]);
    // A conference insert whose member write fails leaves no conference behind.
    expect(() => conferences.insert({ id: 'conf_b', title: 'B', createdAt: 11 }, [null as unknown as string])).toThrow(PersistenceError);
    expect(conferences.list().map((c) => c.id)).toEqual(['conf_a']);
    // References are enforced: no session for a conference that is not saved.
    expect(() =>
      sessions.saveCohostSession({ channelId: 'meet', conferenceId: 'conf_missing', hostUserId: 'h', mixMode: 'server', mixSettings: settings, startedAt: 1 }),
    ).toThrow(PersistenceError);
  });

  it('keeps running PKs across reopening the file, replaced as they change, gone with their conference', () => {
    conferences.insert({ id: 'conf_pk', title: 'PK', hostUserId: 'hostA', createdAt: 10 }, ['hostA', 'hostB']);
    const pk = { id: 'pk_1', state: 'active', fromChannelId: 'studio', toChannelId: 'meet' };
    sessions.savePkSession({ id: 'pk_1', conferenceId: 'conf_pk', state: pk, mixSettings: { studio: settings, meet: settings }, savedAt: 20 });
    const withBattle = { ...pk, battle: { scores: { studio: 3, meet: 1 }, over: false } };
    sessions.savePkSession({ id: 'pk_1', conferenceId: 'conf_pk', state: withBattle, mixSettings: { studio: settings, meet: settings }, savedAt: 21 });
    db.close();

    db = new Database(file);
    conferences = new ConferenceRepository(db);
    sessions = new SessionRepository(db);
    expect(sessions.pkSessions()).toEqual([{ id: 'pk_1', conferenceId: 'conf_pk', state: withBattle, mixSettings: { studio: settings, meet: settings }, savedAt: 21 }]);
    expect(() => sessions.savePkSession({ id: 'pk_2', conferenceId: 'conf_missing', state: pk, mixSettings: {}, savedAt: 1 })).toThrow(PersistenceError);
    conferences.insert({ id: 'conf_pk2', title: 'PK 2', createdAt: 11 }, []);
    sessions.savePkSession({ id: 'pk_2', conferenceId: 'conf_pk2', state: pk, mixSettings: {}, savedAt: 22 });
    sessions.deletePkSession('pk_2');
    conferences.delete('conf_pk');
    expect(sessions.pkSessions()).toEqual([]);
  });
});
