//! `?cursor=` of keyset-paginated lists (`SortCursor` and the plain `Cursor`).
#![no_main]

use cadence::http::{Cursor, SortCursor};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|s: &str| {
    if let Ok(c) = Cursor::decode(s) {
        let again = Cursor::decode(&c.encode()).expect("an encoded cursor decodes");
        assert_eq!(again, c);
    }
    if let Ok(c) = SortCursor::decode(s) {
        // What we accept, we can give back as a cursor that decodes to the same position
        // (compared encoded: a rank may be NaN).
        let encoded = c.encode();
        let again = SortCursor::decode(&encoded).expect("an encoded cursor decodes");
        assert_eq!(again.encode(), encoded);
    }
});
