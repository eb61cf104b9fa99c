//! The offer to start the embedded dev broker when nothing answers and no
//! flag, environment variable or profile chose a broker.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::super::action::PopupAction;
use super::super::app::App;
use super::super::keymap::Keymap;

/// The offer (no state of its own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DevOfferPopup;

/// What a key did to the offer.
#[derive(Debug, PartialEq, Eq)]
pub enum DevOfferOutcome {
    Stay,
    Start,
    Decline,
    Quit,
}

const KEYS: [PopupAction; 3] = [
    PopupAction::OfferStart,
    PopupAction::OfferDecline,
    PopupAction::OfferQuit,
];

impl DevOfferPopup {
    pub fn on_key(self, key: &KeyEvent, km: &Keymap) -> DevOfferOutcome {
        match km.popup_action(key, &KEYS) {
            Some(PopupAction::OfferStart) => DevOfferOutcome::Start,
            Some(PopupAction::OfferDecline) => DevOfferOutcome::Decline,
            Some(_) => DevOfferOutcome::Quit,
            None => DevOfferOutcome::Stay,
        }
    }

    pub fn draw(&self, f: &mut Frame, area: Rect, app: &App) {
        let km = app.keymap();
        let lines = vec![
            format!("Nothing answers at {}.", app.http_url()),
            String::new(),
            "Start the bundled dev broker in this process, with a demo topic?".to_owned(),
            format!("Its data lives in {}.", app.dev_data_dir_label()),
        ];
        let keys = format!(
            "{}: start it   {}: stay offline   {}: quit",
            km.popup_hint(PopupAction::OfferStart, 1),
            km.popup_hint(PopupAction::OfferDecline, 1),
            km.popup_hint(PopupAction::OfferQuit, 1)
        );
        super::confirm::frame(f, area, app.theme(), " No broker ", &lines, &keys);
    }
}
