/**
 * The provider's recommended sizes (its page lists a 1K and a 2K set, each from 1:1 to 21:9).
 * Every one is valid under the request schema; the console offers them as presets.
 */
export interface RecommendedSize {
  readonly width: number;
  readonly height: number;
  readonly ratio: string;
  readonly tier: '1K' | '2K';
}

export const RECOMMENDED_SIZES: readonly RecommendedSize[] = [
  { width: 1328, height: 1328, ratio: '1:1', tier: '1K' },
  { width: 1472, height: 1104, ratio: '4:3', tier: '1K' },
  { width: 1584, height: 1056, ratio: '3:2', tier: '1K' },
  { width: 1664, height: 936, ratio: '16:9', tier: '1K' },
  { width: 2016, height: 864, ratio: '21:9', tier: '1K' },
  { width: 2048, height: 2048, ratio: '1:1', tier: '2K' },
  { width: 2304, height: 1728, ratio: '4:3', tier: '2K' },
  { width: 2496, height: 1664, ratio: '3:2', tier: '2K' },
  { width: 2560, height: 1440, ratio: '16:9', tier: '2K' },
  { width: 3024, height: 1296, ratio: '21:9', tier: '2K' },
];
