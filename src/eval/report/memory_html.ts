// The report's energy table with memory access: compute-only beside compute + memory for every run, the memory part
// split by data kind, and the assumptions in words. A section of its own so the page layout can change around it.
import { formatEnergy, formatOps } from '../energy.js';
import type { Report } from './data.js';
import { esc } from './svg.js';

export function memorySection(r: Report): string {
  const runs = r.runs.filter((x) => x.energy);
  if (runs.length === 0) return '';
  const rows = runs.map((x) => {
    const e = x.energy!;
    const m = e.memory;
    if (!m)
      return (
        `<tr><td>${esc(x.name)}</td><td>${formatEnergy(e.perImage)}</td><td colspan="5" class="na">no memory ` +
        `estimate in this energy.json: run <code>geospike energy</code> again</td></tr>`
      );
    return (
      `<tr><td>${esc(x.name)}</td><td>${formatEnergy(e.perImage)}</td><td>${formatEnergy(m.byKind.weights)}</td>` +
      `<td>${formatEnergy(m.byKind.potentials)}</td><td>${formatEnergy(m.byKind.activations)}</td>` +
      `<td>${formatOps(m.reads)} ` +
      `/ ${formatOps(m.writes)}</td><td><strong>${formatEnergy(e.perImage + m.pJ)}</strong></td></tr>`
    );
  });
  const baseline = runs.map((x) => x.energy!).find((e) => e.baseline && e.memory?.baselinePj != null);
  if (baseline && !r.runs.some((x) => x.preset === baseline.baseline!.name)) {
    const b = baseline.baseline!;
    rows.push(
      `<tr><td>${esc(b.name)} <span class="note">(from architecture)</span></td><td>${formatEnergy(b.energy)}</td>` +
        `<td colspan="4" class="na">same ` +
        `assumptions</td><td><strong>${formatEnergy(b.energy + baseline.memory!.baselinePj!)}</strong></td></tr>`,
    );
  }
  const about = runs.find((x) => x.energy!.memory)?.energy?.memory;
  return (
    `<h2>Energy with memory access</h2>
<div class="wide"><table><thead><tr><th>run</th><th>compute only</th><th>weights</th><th>membrane ` +
    `potentials</th><th>activations / spikes</th><th>accesses (reads / writes)</th><th>compute + ` +
    `memory</th></tr></thead>
<tbody>${rows.join('')}</tbody></table></div>
<p class="note">Memory term after Lemaire et al., ICONIP 2022 (as in Qualia's SpikingJelly plugin): a spiking layer ` +
    `reads each input spike, one weight per synaptic operation and its biases, writes its membrane potentials once ` +
    `per synaptic operation plus once per neuron, and writes its output spikes; an ANN layer reads a weight per MAC, ` +
    `a conv its input per MAC (a linear layer each input once), and writes each output. ${
      about ? `${about.bits}-bit words; ${esc(about.about)}.` : ''
    } Caches, data reuse and DRAM traffic are not modelled; this is an estimate of a dedicated accelerator, not of ` +
    `this CPU.</p>`
  );
}
