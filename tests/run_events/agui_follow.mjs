// Follows a toolmesh run with the official AG-UI client (@ag-ui/client's HttpAgent), unmodified:
// it POSTs a RunAgentInput to the run's events URL and applies the stream with the client's own
// verification. When the run asks for an approval (an interrupt), a second HttpAgent answers it with
// a resume entry, as an AG-UI application would. Prints what it saw, with the messages the client
// put together from the stream, as one JSON line.
import { HttpAgent } from "@ag-ui/client";

const [url, key, runId] = process.argv.slice(2);
const headers = { "x-functions-key": key };
const seen = { types: [], text: "", toolCalls: [], toolResults: [], interrupts: [], finished: [], errors: [] };
const steering = [];

const agent = new HttpAgent({ url, headers, threadId: runId });
const subscriber = {
  onEvent({ event }) {
    seen.types.push(event.type);
  },
  onTextMessageContentEvent({ event }) {
    seen.text += event.delta;
  },
  onToolCallStartEvent({ event }) {
    seen.toolCalls.push(event.toolCallName);
  },
  onToolCallResultEvent({ event }) {
    seen.toolResults.push(event.toolCallId);
  },
  onRunFinishedEvent({ event }) {
    seen.finished.push(event.outcome ?? { type: "success" });
    if (event.outcome?.type === "interrupt") {
      seen.interrupts.push(...event.outcome.interrupts);
      const resume = event.outcome.interrupts.map((i) => ({
        interruptId: i.id,
        status: "resolved",
        payload: { approve: true, comment: "approved from an AG-UI client" },
      }));
      const steer = new HttpAgent({ url, headers, threadId: runId });
      steering.push(steer.runAgent({ resume }).catch((error) => seen.errors.push(`steer: ${error}`)));
    }
  },
  onRunErrorEvent({ event }) {
    seen.errors.push(`run error: ${event.message}`);
  },
};

try {
  await agent.runAgent({}, subscriber);
  await Promise.all(steering);
} catch (error) {
  seen.errors.push(String(error));
}
seen.messages = agent.messages;
console.log(JSON.stringify(seen));
