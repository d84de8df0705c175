//! Twilio webhook bodies (`application/x-www-form-urlencoded`) and `X-Twilio-Signature`
//! verification.
#![no_main]

use cadence::telephony::signature::{form_params, sign, verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &str, &str, &[u8])| {
    let (token, url, received, body) = input;
    let params = form_params(body);
    // Never panics, whatever is received.
    let _ = verify(token, url, &params, received);
    // The signature we compute verifies (unless there is no token), in any parameter order,
    // and a changed signature does not.
    let good = sign(token, url, &params);
    assert_eq!(verify(token, url, &params, &good), !token.is_empty());
    let mut reversed = params.clone();
    reversed.reverse();
    assert_eq!(verify(token, url, &reversed, &good), !token.is_empty());
    if received != good {
        assert!(!verify(token, url, &params, received));
    }
});
