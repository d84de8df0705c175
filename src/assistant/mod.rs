//! The assistant core shared by chat and voice: the tool registry ([`tools`]), the context
//! builder ([`context`]) and one assistant turn with a bounded tool loop ([`turn`]).
//!
//! - [`tools::specs`] gives the JSON-schema tools an agent may use (by its `tools` groups);
//!   [`tools::execute`] runs one call through the same services as the REST API and never
//!   fails: bad arguments come back as an error result for the model.
//! - [`context::build`] assembles the messages for the model: the agent's prompt with the
//!   user's profile, local time, relevant memories and notes, tasks due soon and active
//!   goals, then as much history as fits the token budget, then the new message.
//! - [`turn::run_turn`] streams one reply, executing tool calls (at most
//!   [`turn::MAX_STEPS`] model calls), reporting text deltas and tool results to a callback,
//!   and returns the text, the calls and the usage to bill (estimated when cancelled).

pub mod context;
pub mod tools;
pub mod turn;

pub use context::{ContextOptions, build as build_context};
pub use tools::{ToolContext, ToolOutcome, execute as execute_tool, specs as tool_specs};
pub use turn::{TurnEvent, TurnOutput, TurnRequest, run_turn};
