/**
 * Which participants one node passes across a bridge of a conference that
 * spans nodes (conference-span.ts). `from`: the node a participant was
 * brought over from (undefined: connected to this node); `to`: the other
 * end of the bridge; `atHome`: this node holds the conference (the others
 * hold copies). Nobody is sent back where it came from; a copy gives only
 * who is connected to it (its home passes them on to the other copies), so
 * the bridges form a star around the home and no media goes round in a loop.
 */
export function bridgeGives(from: string | undefined, to: string, atHome: boolean): boolean {
  if (from === to) return false;
  return atHome || from === undefined;
}
