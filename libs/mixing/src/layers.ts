import type { Fit } from './layout';

/** What the gateway knows of a simulcast video source: its size (from the sender) and each layer's downscale, low first. */
export interface VideoSource {
  width?: number;
  height?: number;
  /** scaleResolutionDownBy of each encoding, in mediasoup's spatial-layer order (1 when absent). */
  scales: number[];
}

/**
 * The spatial layer a mix cell should consume: the smallest one whose picture,
 * scaled to the cell as the compositor does (cover fills it and crops, contain
 * fits it whole), is not enlarged by more than 5 %. The top layer when none is
 * big enough or the source's size is unknown; undefined for a one-layer
 * source (nothing to choose). Pure.
 */
export function layerForCell(source: VideoSource, cell: { width: number; height: number; fit: Fit }): number | undefined {
  const n = source.scales.length;
  if (n < 2) return undefined;
  const top = n - 1;
  if (!source.width || !source.height || !(cell.width > 0) || !(cell.height > 0)) return top;
  const sx = cell.width / source.width;
  const sy = cell.height / source.height;
  // The fraction of the source's full size the cell shows the picture at.
  const needed = cell.fit === 'contain' ? Math.min(sx, sy) : Math.max(sx, sy);
  for (let layer = 0; layer < n; layer++) {
    const scale = source.scales[layer] > 0 ? source.scales[layer] : 1;
    if (1 / scale >= needed / 1.05) return layer;
  }
  return top;
}
