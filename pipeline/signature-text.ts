/** A model signature as lines for people, apart from signature.ts (which reads models) so reports render without layer code. */
import type { InputScaling, InputSignature, OutputMeaning, OutputSignature } from './signature.ts';

const dims = (shape: (number | null)[]) => `[${shape.map((d) => (d === null ? 'batch' : d)).join(', ')}]`;

/** The signature as lines for people: report.md, `slimnet inspect`, the CLI. */
export function describeSignature(sig: { inputs: Array<Omit<InputSignature, 'scaling'> & { scaling?: InputScaling }>; outputs: OutputSignature[] }): string[] {
  const meaning: Record<OutputMeaning, string> = {
    probabilities: 'probabilities (each row sums to 1)',
    'independent probabilities': 'independent per-class probabilities (sigmoid, each in 0–1)',
    logits: 'logits (no final activation: apply softmax for probabilities)',
    scores: 'scores',
  };
  return [
    ...sig.inputs.map((i) => `input  "${i.name}": ${i.dtype} ${dims(i.shape)}, layout ${i.layout}${i.scaling ? `; scaling: ${i.scaling.text}` : ''}`),
    ...sig.outputs.map((o) =>
      `output "${o.name}": ${o.dtype} ${dims(o.shape)}: ${meaning[o.meaning]}, from the ${o.activation} of layer "${o.activationLayer}"` +
      `${o.classes ? `; predicted class = index of the largest of its ${o.classes} values` : ''}`),
  ];
}
