import { describe, expect, it } from 'vitest';
import type { LiveEvent } from './api.ts';
import { EventBacklog, isImportant } from './event-backlog.ts';

const event = (t_s: number, kind: string, message = kind): LiveEvent => ({
  t_s,
  kind,
  message,
  severity: 'info',
  source: 'twin',
  time: new Date(0).toISOString(),
});

describe('event backlog', () => {
  it('keeps the important events however many link events follow, oldest first', () => {
    const backlog = new EventBacklog({ recent: 5, important: 3 });
    backlog.add(event(1, 'scenario-start'));
    backlog.add(event(2, 'command:attack'));
    for (let i = 0; i < 50; i++) backlog.add(event(3 + i * 0.01, 'link', `flap ${i}`));
    backlog.add(event(4, 'alarm'));
    backlog.add(event(5, 'link', 'last flap'));
    expect(backlog.events().map((e) => e.message)).toEqual([
      'scenario-start',
      'command:attack',
      'flap 47',
      'flap 48',
      'flap 49',
      'alarm',
      'last flap',
    ]);
  });

  it('bounds the important events too, dropping the oldest', () => {
    const backlog = new EventBacklog({ recent: 2, important: 2 });
    for (const kind of ['island', 'generator-trip', 'attack-stop']) backlog.add(event(1, kind));
    backlog.add(event(2, 'link'));
    backlog.add(event(3, 'link'));
    expect(backlog.events().map((e) => e.kind)).toEqual(['generator-trip', 'attack-stop', 'link', 'link']);
  });

  it('names what is important', () => {
    const important = [
      'scenario-verdict',
      'command:scenario',
      'attack-start',
      'alarm',
      'island',
      'command:island',
    ];
    const routine = ['link', 'link-lost', 'loop-overrun', 'command:setpoint', 'breaker', 'ems-mode'];
    expect(important.filter((k) => !isImportant({ kind: k }))).toEqual([]);
    expect(routine.filter((k) => isImportant({ kind: k }))).toEqual([]);
    expect(isImportant({ kind: 'der-trip' }) && isImportant({ kind: 'ufls' })).toBe(true);
  });
});
