//! Using a script entry: an ops plan that sends the version's text, with its parameters'
//! preamble, to the instances the request's words name ("on instances tagged Role=web in
//! us-east-1"), through the ops agent's SSM path (`agents::ops::scripts`). The words only
//! select instances and a region: nothing of them enters the script.

use crate::agents::{AgentRequest, Draft};
use crate::error::{Error, Result};
use crate::events::Sink;
use crate::intent::{AgentKind, Intent, Params};
use crate::library::script;
use crate::library::{Values, VersionInfo};

use super::super::Library;
use super::UseRequest;

impl Library<'_> {
    /// The draft of a script version's run, and the request's reading of where it runs.
    pub(super) fn script_draft(
        &self,
        request_id: &str,
        req: &UseRequest,
        info: &VersionInfo,
        files: Vec<(String, Vec<u8>)>,
        values: &Values,
        sink: Sink<'_>,
    ) -> Result<(Params, Draft)> {
        script::check_values(values)?;
        let [(file, bytes)] = files.as_slice() else {
            return Err(Error::refused(format!(
                "{} holds {} files: a script entry is one .sh file",
                info.label(),
                files.len()
            )));
        };
        // Checked again as it is used: the stored text is what was added, or nothing runs.
        let shell = script::check_text(file, bytes)?;
        let text = String::from_utf8_lossy(bytes);
        let composed = script::compose(&text, &info.label(), values)?;
        let where_ = || {
            Error::input(format!(
                "say where {} runs: the instances by tag, environment, name or id, and the region (opsdeck ask --use {} \"on instances tagged Role=web in us-east-1\")",
                info.label(),
                info.label()
            ))
        };
        let words = req.text.trim();
        if words.is_empty() {
            return Err(where_());
        }
        let reading = self.requests().preview(words, None).map_err(|_| where_())?;
        let mut params = reading.params;
        // A command in the words is not what runs: the script is.
        params.command = None;
        let intent = Intent {
            agent: AgentKind::Ops,
            agents: vec![AgentKind::Ops],
            action: "run".into(),
            confidence: 1.0,
            low_confidence: false,
            params,
            evidence: Vec::new(),
            notes: Vec::new(),
            source: None,
            settled: None,
        };
        let redacted = crate::redact::redact(words);
        let agent_request = AgentRequest {
            request_id,
            text: &redacted,
            intent: &intent,
            tenant: &self.tenant,
            store: self.store.as_ref(),
            aws: &self.aws,
        };
        let region = agent_request.region()?;
        let send = crate::agents::ops::ScriptSend {
            entry: &info.name,
            version: Some((info.version, &info.sha256)),
            file,
            shell,
            composed: &composed,
            approved: !info.approvals.is_empty(),
        };
        let draft = self.watching_waits(AgentKind::Ops, sink, |sink| {
            crate::agents::ops::plan_script(&agent_request, sink, &region, &send)
        })?;
        Ok((intent.params, draft))
    }
}
