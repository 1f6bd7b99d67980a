// The one export of "cloudflare:workers" the tracker uses.
export class DurableObject {
  constructor(ctx, env) {
    this.ctx = ctx;
    this.env = env;
  }
}
