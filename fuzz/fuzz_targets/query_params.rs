//! List query strings: `limit`/`cursor` pagination and the typed filters.
#![no_main]

use cadence::http::{
    QueryParams,
    keyset::SortCursor,
    pagination::{MAX_LIMIT, page_params},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|query: &str| {
    if let Ok((limit, cursor)) = page_params(query) {
        assert!((1..=MAX_LIMIT).contains(&limit));
        if let Some(c) = cursor {
            let _ = SortCursor::decode(&c);
        }
    }
    let q = QueryParams::parse(query);
    let _ = q.many::<String>("status", "a status");
    let _ = q.many::<i32>("priority", "an integer");
    let _ = q.one::<chrono::NaiveDate>("due_before", "a date");
    let _ = q.boolean("is_pinned");
    let _ = q.uuid("goal_id");
    let _ = q.link("parent_id");
    if let Ok(Some(t)) = q.bounded_text("q", 200) {
        assert!(t.chars().count() <= 200);
    }
});
