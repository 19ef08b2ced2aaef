import { api } from "./api";

/** Those of `wanted` that the venue serves, in `wanted`'s order. */
export async function servedTimeframes(venue: string, wanted: string[]): Promise<string[]> {
  const served = (await api.get<{ timeframes: string[] }>(`/api/exchanges/${venue}/pairs`)).timeframes;
  return wanted.filter((tf) => served.includes(tf));
}
