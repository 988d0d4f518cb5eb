import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clock, createDisplay, wantsLive, type DisplayStream } from '../../../pipeline/progress/display.ts';
import { lineSink, reportStep, withProgress, type ProgressSink, type StepProgress } from '../../../pipeline/progress/events.ts';

/** A stream that records what was written; `tty` makes it look like a terminal. */
function capture(tty: boolean): DisplayStream & { text: () => string } {
  const parts: string[] = [];
  return { isTTY: tty, columns: 100, rows: 40, write: (t: string) => void parts.push(t), text: () => parts.join('') };
}

/** Text as a person would read it: escape sequences removed. */
const visible = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
const COLOR = /\x1b\[(3\d|2)m/;

function clockAt(ms: number[]) {
  let i = 0;
  return () => ms[Math.min(i++, ms.length - 1)]!;
}

test('a terminal gets a live display: stage k/n, its activity, a fine-tune bar with ETA, kept lines above', () => {
  const out = capture(true);
  let t = 0;
  const display = createDisplay(out, { env: {}, now: () => t, fps: 0 });
  assert.equal(display.live, true);
  const lane = display.lane();
  lane.line('baseline: val 98.25%');
  lane.stage('prune', 1, 2);
  lane.activity('prune: sensitivity done');
  lane.step({ label: 'fine-tune', done: 1000, total: 10000, unit: 'samples' });
  t = 2000;
  lane.step({ label: 'fine-tune', done: 3000, total: 10000, unit: 'samples' });
  const text = visible(out.text());
  assert.match(text, /baseline: val 98\.25%/);
  assert.match(text, /prune \(1\/2\) 0:02  sensitivity done/, 'the head names the stage; its activity loses the repeated prefix');
  // 2,000 samples in 2 s: 7,000 left at 1,000/s.
  assert.match(text, /fine-tune ━+─+ 3,000\/10,000 samples · ETA 0:07/);
  assert.match(out.text(), COLOR);
  display.close();
  assert.match(out.text(), /\x1b\[2K/, 'closing erases the live block');
});

test('steps without a known end are counted; a new stage drops the previous step', () => {
  const out = capture(true);
  const display = createDisplay(out, { env: {}, now: () => 0, fps: 0 });
  const lane = display.lane('web');
  lane.stage('prune', 1, 1);
  lane.step({ label: 'candidates', done: 12, unit: 'evaluated' });
  assert.match(visible(out.text()), /\[web\] prune \(1\/1\)[\s\S]*candidates: 12 evaluated/);
  lane.stage('export', 2, 2);
  const last = visible(out.text()).split('[web] export')[1] ?? '';
  assert.doesNotMatch(last, /candidates/);
  display.close();
});

test('NO_COLOR keeps the live display but drops colour', () => {
  const out = capture(true);
  const display = createDisplay(out, { env: { NO_COLOR: '1' }, now: () => 0, fps: 0 });
  const lane = display.lane();
  lane.stage('prune', 1, 1);
  lane.line('kept');
  lane.step({ label: 'fine-tune', done: 1, total: 2, unit: 'samples' });
  display.close();
  assert.equal(display.live, true);
  assert.doesNotMatch(out.text(), COLOR);
});

test('a pipe, CI or TERM=dumb get plain timestamped lines with no escape codes; steps add no lines', () => {
  assert.equal(wantsLive({ isTTY: false, write: () => {} }, {}), false);
  assert.equal(wantsLive({ isTTY: true, write: () => {} }, { CI: 'true' }), false);
  assert.equal(wantsLive({ isTTY: true, write: () => {} }, { TERM: 'dumb' }), false);
  assert.equal(wantsLive({ isTTY: true, write: () => {} }, { CI: 'false' }), true);
  for (const [tty, env] of [[false, {}], [true, { CI: '1' }]] as const) {
    const out = capture(tty);
    const display = createDisplay(out, { env, now: clockAt([0, 1500, 1500, 1500, 2500]) });
    const lane = display.lane('server');
    lane.stage('export', 1, 1);
    lane.line('baseline: ok');
    lane.activity('export: onnx written');
    lane.step({ label: 'fine-tune', done: 1, total: 2, unit: 'samples' });
    display.close();
    assert.equal(out.text(), '[   1.5s] [server] baseline: ok\n[   1.5s] [server] export: onnx written\n');
  }
});

test('steps reported deep inside a run reach the sink the runner opened, and only it', async () => {
  const seen: Record<string, StepProgress[]> = { a: [], b: [] };
  const sink = (name: string): ProgressSink => ({ ...lineSink(), step: (p) => void seen[name]!.push(p) });
  const work = async (n: number) => {
    await new Promise((r) => setTimeout(r, 1));
    reportStep({ label: 'fine-tune', done: n, total: 2, unit: 'samples' });
  };
  await Promise.all([withProgress(sink('a'), () => work(1)), withProgress(sink('b'), () => work(2))]);
  reportStep({ label: 'outside', done: 1, unit: 'x' });
  assert.deepEqual([seen.a!.map((p) => p.done), seen.b!.map((p) => p.done)], [[1], [2]]);
});

test('clock formats durations', () => {
  assert.deepEqual([clock(0), clock(7_400), clock(754_000), clock(3_723_000)], ['0:00', '0:07', '12:34', '1:02:03']);
});
