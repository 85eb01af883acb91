// Placeholder bundle for the cf-dev example stack, so `stockade synth --stack cf-dev` has a
// file to hash. It is NOT the Cloudflare integration: deploying it answers every request
// with 503. Build your fork of github.com/cloudflare/claude-managed-agents and point
// stockade:sandboxes.cloudflare.bundle.mainModule at the built entry module instead.
import { DurableObject } from "cloudflare:workers";

const notDeployed = () =>
  new Response("placeholder bundle: deploy the built Claude Managed Agents template", { status: 503 });

// The template's Durable Object classes, so the bindings and the v1 migration resolve.
export class Sandbox extends DurableObject {
  async fetch() {
    return notDeployed();
  }
}

export class IsolateRunner extends DurableObject {
  async fetch() {
    return notDeployed();
  }
}

export default {
  async fetch() {
    return notDeployed();
  },
};
