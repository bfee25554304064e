/**
 * The Security section of the HTML run report (bench/reports/html.ts): detection per attack against
 * the ground-truth labels, false alarms per detector and the physical impact, from the
 * `security-metrics` event the attack runner records (bench/attacks/record.ts). Empty for runs
 * without attacks.
 */
import type { SecurityMetrics } from '../../twin/detection/metrics.ts';
import type { RecordedEvent } from '../recording/index.ts';

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const num = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);

export function securitySection(events: readonly RecordedEvent[]): string {
  const e = events.find((x) => x.kind === 'security-metrics');
  const m = e?.data as unknown as SecurityMetrics | undefined;
  if (!m || !Array.isArray(m.attacks) || !Array.isArray(m.detectors)) return '';
  const attacks = m.attacks
    .map(
      (a) =>
        `<tr><td>${esc(a.id)}</td><td>${esc(a.kind)}</td><td>${esc(a.target)}</td><td>${num(a.start_s, 2)}–${num(a.stop_s, 2)}</td>${
          a.detected ? '<td class="ok">detected</td>' : '<td class="bad">NOT detected</td>'
        }<td>${num(a.timeToDetect_s)}</td><td>${esc(
          Object.entries(a.detectedBy)
            .map(([d, t]) => `${d} (${num(t)} s)`)
            .join(', ') || '—',
        )}</td><td>${num(a.maxFrequencyDeviation_hz)}</td></tr>`,
    )
    .join('');
  const detectors = m.detectors
    .map(
      (d) =>
        `<tr><td>${esc(d.detector)}</td><td>${d.evaluations}</td><td>${d.falseAlarms}</td><td>${num(d.falseAlarmsPerHour, 1)}</td><td>${num(100 * d.falseAlarmFraction, 2)} %</td></tr>`,
    )
    .join('');
  const rate = m.attacks.length ? m.attacks.filter((a) => a.detected).length / m.attacks.length : 0;
  return `<h2>Security</h2>
<p>Detection rate ${num(100 * rate, 0)} % (${m.attacks.filter((a) => a.detected).length} of ${m.attacks.length} attacks), measured against the recorded attack labels; alarms up to ${num(m.grace_s, 1)} s after an attack stops count for it.</p>
<table><tr><th>attack</th><th>kind</th><th>target</th><th>interval [s]</th><th>result</th><th>time to detect [s]</th><th>detected by</th><th>max |Δf| [Hz]</th></tr>${attacks}</table>
<table><tr><th>detector</th><th>evaluations</th><th>false alarms</th><th>per hour</th><th>of attack-free evaluations</th></tr>${detectors}</table>
<dl><dt>max |Δf|</dt><dd>${num(m.impact.maxFrequencyDeviation_hz)} Hz</dd><dt>min V</dt><dd>${num(m.impact.minVoltage_pu)} pu</dd><dt>energy not served</dt><dd>${num(m.impact.energyNotServed_mwh, 4)} MWh</dd><dt>devices tripped</dt><dd>${m.impact.devicesTripped}</dd></dl>`;
}
