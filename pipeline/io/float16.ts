/**
 * float32 <-> IEEE float16 for the tfjs `{dtype: 'float16'}` weight format. Decoding uses the same lookup
 * tables as tfjs-core, so values match what stock tfjs loads bit for bit (including its quirk of decoding
 * float16 infinities as 65536).
 */

const f32 = new Float32Array(1);
const f32Bits = new Uint32Array(f32.buffer);
/** Largest finite float16; larger magnitudes are clamped to it (tfjs decodes float16 infinities as 65536). */
const FLOAT16_MAX_BITS = 0x7bff;

/** float32 -> IEEE float16 bits, round to nearest even (numpy's astype(np.float16)). */
export function float32ToFloat16Bits(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i];
    const x = f32Bits[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    const mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = mant ? sign | 0x7e00 : sign | FLOAT16_MAX_BITS;
      continue;
    }
    const e = exp - 127 + 15;
    let half: number;
    if (e >= 0x1f) {
      half = FLOAT16_MAX_BITS;
    } else if (e <= 0) {
      // Subnormal half (or zero): shift the full significand (implicit 1 included) into 10 bits.
      if (e < -10) {
        half = 0;
      } else {
        const full = mant | 0x800000;
        const shift = 14 - e;
        half = full >>> shift;
        const rem = full & ((1 << shift) - 1);
        const halfway = 1 << (shift - 1);
        if (rem > halfway || (rem === halfway && half & 1)) half++;
      }
    } else {
      half = (e << 10) | (mant >>> 13);
      const rem = mant & 0x1fff;
      // A carry out of the mantissa correctly bumps the exponent.
      if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
      if (half > FLOAT16_MAX_BITS) half = FLOAT16_MAX_BITS;
    }
    out[i] = sign | half;
  }
  return out;
}

let float16Tables: { mantissa: Uint32Array; exponent: Uint32Array; offset: Uint32Array } | undefined;

/** Table-driven float16 -> float32 (the fast-half-float method tfjs-core uses), so results match tfjs exactly. */
export function float16BitsToFloat32(bits: Uint16Array): Float32Array {
  if (!float16Tables) {
    const mantissa = new Uint32Array(2048);
    for (let i = 1; i < 1024; i++) {
      // Normalise a subnormal half's mantissa into a float32 exponent/mantissa pair.
      let m = i << 13;
      let e = 0;
      while ((m & 0x00800000) === 0) {
        e -= 0x00800000;
        m <<= 1;
      }
      mantissa[i] = (m & ~0x00800000) | (e + 0x38800000);
    }
    for (let i = 1024; i < 2048; i++) mantissa[i] = 0x38000000 + ((i - 1024) << 13);
    const exponent = new Uint32Array(64);
    for (let i = 1; i < 31; i++) exponent[i] = i << 23;
    for (let i = 33; i < 63; i++) exponent[i] = 0x80000000 + ((i - 32) << 23);
    exponent[31] = 0x47800000;
    exponent[32] = 0x80000000;
    exponent[63] = 0xc7800000;
    const offset = new Uint32Array(64).fill(1024);
    offset[0] = 0;
    offset[32] = 0;
    float16Tables = { mantissa, exponent, offset };
  }
  const { mantissa, exponent, offset } = float16Tables;
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    out[i] = mantissa[offset[h >> 10] + (h & 0x3ff)] + exponent[h >> 10];
  }
  return new Float32Array(out.buffer);
}
