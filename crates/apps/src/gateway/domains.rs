//! Custom domains: an app asks for one, proves it owns it with a TXT
//! record `_landlord-challenge.{domain}`, and only then is it routed.
//! Re-checked every `apps.domain_recheck_hours`; a record gone detaches it.
