"""Stockade's polling orchestrators for the managed providers Daytona and Modal.

`stockade-orchestrator --provider daytona|modal` runs in the `stockade:aws:ProviderBridge` task.
It claims work items from the environment's queue (docs/vendor-interface.md §1.7) and starts
one provider sandbox per session running `ant beta:worker run`, with the guarantees of the AWS
dispatcher (docs/dispatcher.md): one sandbox per work item, a concurrency cap, SIGTERM handled
within the 30 s grace, no secret in logs or argv, a timeout on every call.

* `queue`: a standard-library client of the documented queue endpoints (poll, ack, heartbeat
  with the 412 rule, stop, get);
* `core`: the orchestration loop, provider-neutral;
* `provider`: the small interface an adapter implements;
* `daytona_adapter`, `modal_adapter`: the adapters, importing the providers' SDKs lazily so
  the rest of Stockade never needs them (`pip install 'stockade[orchestrators]'`).

Like the dispatchers, this package imports only the standard library, stockade.workqueue and
stockade.dispatcher.logs (plus the provider SDK inside its adapter): images/orchestrator copies
just those (tests/test_orchestrator_image.py checks it).
"""
