//! Goals: a hierarchy (`parent_goal_id`), a timeframe, a status and a progress that follows
//! the share of the goal's tasks that are done whenever it has tasks.

pub mod model;
pub mod repo;
pub mod routes;
pub mod service;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::list_goals, routes::create_goal))
        .routes(routes!(
            routes::get_goal,
            routes::update_goal,
            routes::put_goal,
            routes::delete_goal
        ))
        .routes(routes!(routes::list_goal_tasks))
}
