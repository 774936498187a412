//! `X-Landlord-Signature`: the gateway signs what it tells the upstream
//! (method, path and query, timestamp, and the identity headers) with the
//! app's gateway secret, in the Standard Webhooks scheme, so the upstream
//! can refuse what did not come through Landlord.
