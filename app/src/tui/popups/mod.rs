//! The popups on top of the panes. Each module owns one popup's state, its
//! keys (through the remappable [`Keymap`]) and its drawing. A key handler
//! takes the popup by value and returns an outcome: the popup itself to stay
//! open, or what the user chose; [`super::app::App`] then does it (writes,
//! opens the next popup). Panes draw in [`super::components`].

pub mod changes;
pub mod confirm;
pub mod conflict;
pub mod dev_offer;
pub mod editor;
pub mod help;
pub mod history;
pub mod input;
pub mod review;

use ratatui::Frame;
use ratatui::layout::Rect;

use super::app::App;

pub use changes::ChangesPopup;
pub use confirm::{ConfirmPopup, Confirmed};
pub use conflict::ConflictPopup;
pub use dev_offer::DevOfferPopup;
pub use editor::EditorPopup;
pub use help::HelpPopup;
pub use history::HistoryPopup;
pub use input::{InputKind, InputPopup};
pub use review::ReviewPopup;

/// The popup open on top of the panes.
pub enum Popup {
    Help(HelpPopup),
    Input(InputPopup),
    Editor(EditorPopup),
    Review(ReviewPopup),
    Conflict(ConflictPopup),
    History(HistoryPopup),
    Confirm(ConfirmPopup),
    DevOffer(DevOfferPopup),
    Changes(ChangesPopup),
}

impl Popup {
    /// Draws the popup over `area` (the input prompt draws in the hints line,
    /// see `components::command_line`).
    pub fn draw(&self, f: &mut Frame, area: Rect, app: &App) {
        match self {
            Popup::Input(_) => {}
            Popup::Help(p) => p.draw(f, area, app),
            Popup::Editor(p) => p.draw(f, area, app),
            Popup::Review(p) => p.draw(f, area, app),
            Popup::Conflict(p) => p.draw(f, area, app),
            Popup::History(p) => p.draw(f, area, app),
            Popup::Confirm(p) => p.draw(f, area, app),
            Popup::DevOffer(p) => p.draw(f, area, app),
            Popup::Changes(p) => p.draw(f, area, app),
        }
    }
}
