// The sandbox page: a member's Slack, talking to the real bot through the sandbox's JSON API.
"use strict";

(() => {
  const { el } = BlockKit;
  const BOT = "UBOT0001";
  const DM = "D0000001";
  const POLL_MS = 500;

  const view = { channel: DM, tab: "messages", thread: null, homeOpened: false };
  let state = {
    version: -1, channels: [], messages: [], home: null, modal: null, modal_errors: {}, problems: [], intents: [],
    users: {}, staff: false,
  };

  const $ = (id) => document.getElementById(id);

  async function api(path, body) {
    const options = body === undefined ? {} : {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    };
    const resp = await fetch("/sandbox/api/" + path, options);
    if (!resp.ok) throw new Error(path + ": HTTP " + resp.status + " " + (await resp.text()));
    return resp.json();
  }

  // --- polling ---

  let polling = null;
  async function poll() {
    clearTimeout(polling);
    try {
      const next = await api("state?since=" + state.version);
      if (next.messages) {
        state = next;
        render();
      }
    } catch (err) {
      console.warn(err);
    }
    polling = setTimeout(poll, POLL_MS);
  }

  // --- rendering ---

  function time(ts) {
    const d = new Date(Number(ts) * 1000);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function avatar(bot) {
    return el("div", "avatar" + (bot ? " bot" : ""), bot ? "CM" : "M");
  }

  function onClick(message, home) {
    return async (block, element) => {
      // A link button opens its page, and Slack still tells the app about the click.
      if (element.url && /^https?:/i.test(element.url)) window.open(element.url, "_blank", "noopener");
      try {
        await api("click", {
          message: home ? undefined : message.id,
          home: Boolean(home),
          block_id: block.block_id,
          action_id: element.action_id,
        });
      } catch (err) {
        console.warn(err);
      }
      setTimeout(poll, 150);
    };
  }

  function whyPanel(why) {
    const panel = el("aside", "why");
    panel.appendChild(el("div", "why-title", "Why this answer"));
    const row = (label, value) => {
      const r = el("div", "why-row");
      r.appendChild(el("span", "why-label", label));
      if (value instanceof Node) r.appendChild(value);
      else r.appendChild(el("span", "why-value", value));
      panel.appendChild(r);
    };
    const intentNode = (id, title) => {
      const span = el("span", "why-value");
      span.appendChild(el("code", "intent-id", id));
      if (title) span.appendChild(document.createTextNode(" " + title));
      return span;
    };
    if (why.kind === "button") {
      row("chosen by", "a topic button (no matching)");
      row("intent", intentNode(why.intent, why.title));
      return panel;
    }
    if (why.kind === "command") {
      row("command", why.command);
      row("ran", why.title ? intentNode(why.what, why.title) : why.what);
      panel.appendChild(el("p", "why-note", "A fixed sub-command: no matching was needed."));
      return panel;
    }
    // A very long question would make the panel a tall column: show its start (learning uses it whole).
    const q = why.question || "";
    row("question", q.length > 280 ? `${q.slice(0, 280)}… (${q.length} characters)` : q);
    if (why.intent) row("intent", intentNode(why.intent, why.title));
    else row("intent", "none: the bot said it does not know (fallback)");
    const conf = el("span", "why-value");
    const bar = el("span", "bar");
    const fill = el("span", "bar-fill" + (why.confidence < why.threshold ? " low" : ""));
    fill.style.width = Math.round(Math.min(1, why.confidence) * 100) + "%";
    bar.appendChild(fill);
    conf.appendChild(document.createTextNode(why.confidence.toFixed(2) + " (probability; answers from " + why.threshold + ") "));
    conf.appendChild(bar);
    row("confidence", conf);
    if (why.followup) row("follow-up", "a reply in the thread, about its topic (" + why.mode + ")");
    // Each stage that acted, in the pipeline's order, with the reason it wrote on the answer.
    const stages = el("ol", "reasons");
    for (const [stage, reason] of why.reasons) {
      const li = el("li");
      li.appendChild(el("code", "stage", stage));
      li.appendChild(document.createTextNode(" " + reason));
      stages.appendChild(li);
    }
    row("stages", why.reasons.length ? stages : "none");
    const alts = el("ol", "alternatives");
    for (const a of why.alternatives) {
      const li = el("li");
      li.appendChild(el("code", "intent-id", a.intent));
      li.appendChild(document.createTextNode(" " + a.score.toFixed(2) + (why.offered.includes(a.intent) ? " · offered" : "")));
      alts.appendChild(li);
    }
    row("alternatives", why.alternatives.length ? alts : "none");
    const example = (ex) => {
      const node = el("span", "why-value");
      node.appendChild(el("q", "", ex.text));
      node.appendChild(document.createTextNode(" of "));
      node.appendChild(el("code", "intent-id", ex.intent_id));
      node.appendChild(document.createTextNode(" · " + ex.similarity.toFixed(2)));
      if (ex.line) node.appendChild(el("div", "where", why.path + ":" + ex.line + ":" + ex.column));
      return node;
    };
    if (why.best_example) row("best example", example(why.best_example));
    if (why.best_of_intent && why.best_example && why.best_of_intent.text !== why.best_example.text) {
      row("its best", example(why.best_of_intent));
    }
    panel.appendChild(learnForm(why));
    return panel;
  }

  function learnForm(why) {
    const box = el("details", "learn");
    box.appendChild(el("summary", "", "Teach the bot this question"));
    const select = el("select");
    const preferred = why.intent || (why.alternatives[0] && why.alternatives[0].intent) || "";
    for (const intent of state.intents) {
      const option = el("option", "", intent.id);
      option.value = intent.id;
      option.selected = intent.id === preferred;
      select.appendChild(option);
    }
    const go = el("button", "bk-btn", "Learn");
    go.type = "button";
    const out = el("pre", "learn-output");
    go.addEventListener("click", async () => {
      out.textContent = "…";
      const result = await api("learn", { question: why.question, intent: select.value });
      out.textContent = result.output.join("\n");
    });
    box.append(select, go, out);
    return box;
  }

  function messageNode(message, opts) {
    const names = state.users;
    const node = el("div", "message" + (message.bot ? " bot" : "") + (message.ephemeral ? " ephemeral" : ""));
    node.dataset.id = message.id;
    if (message.ephemeral) node.appendChild(el("div", "only-you", "Only visible to you"));
    const row = el("div", "message-row");
    row.appendChild(avatar(message.bot));
    const body = el("div", "message-body");
    const head = el("div", "message-head");
    head.appendChild(el("span", "author", names[message.user] || message.user));
    if (message.bot) head.appendChild(el("span", "app-badge", "APP"));
    head.appendChild(el("span", "time", time(message.ts)));
    body.appendChild(head);
    if (message.blocks && message.blocks.length) {
      body.appendChild(BlockKit.render(message.blocks, { names, onClick: onClick(message, false) }));
    } else {
      body.appendChild(BlockKit.mrkdwn(message.text, names));
    }
    if (opts.replies !== undefined) {
      const link = el("button", "link-button replies", opts.replies
        ? opts.replies + (opts.replies === 1 ? " reply" : " replies")
        : "Reply in thread");
      link.type = "button";
      if (!opts.replies) link.classList.add("on-hover"); // as in Slack: shown when the pointer is on it
      link.addEventListener("click", () => openThread(message.channel, message.ts));
      body.appendChild(link);
    }
    row.appendChild(body);
    node.appendChild(row);
    const outer = el("div", "message-line" + (opts.inThread ? " in-thread" : ""));
    outer.appendChild(node);
    if (message.why) {
      if (opts.inThread) {
        const details = el("details", "why-inline");
        details.appendChild(el("summary", "", "Why this answer"));
        details.appendChild(whyPanel(message.why));
        outer.appendChild(details);
      } else {
        outer.appendChild(whyPanel(message.why));
      }
    }
    return outer;
  }

  function renderSidebar() {
    const channels = $("channel-list");
    const apps = $("app-list");
    channels.replaceChildren();
    apps.replaceChildren();
    for (const c of state.channels) {
      const item = el("li");
      const b = el("button", "channel" + (view.channel === c.id ? " active" : ""), c.id === DM ? c.name : "# " + c.name);
      b.type = "button";
      b.dataset.channel = c.id;
      b.addEventListener("click", () => selectChannel(c.id));
      item.appendChild(b);
      (c.id === DM ? apps : channels).appendChild(item);
    }
  }

  function renderBanner() {
    const banner = $("banner");
    banner.replaceChildren();
    banner.hidden = !state.problems.length;
    if (!state.problems.length) return;
    banner.appendChild(el("strong", "", "The last save of the content file was refused: the bot still answers from the version before it. Fix these and save again:"));
    const list = el("ul");
    for (const p of state.problems) list.appendChild(el("li", "", p));
    banner.appendChild(list);
  }

  function renderMessages() {
    const box = $("messages");
    const scroller = $("scroller");
    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    const here = state.messages.filter((m) => m.channel === view.channel);
    const replies = {};
    for (const m of here) if (m.thread_ts) replies[m.thread_ts] = (replies[m.thread_ts] || 0) + 1;
    box.replaceChildren();
    for (const m of here) {
      if (m.thread_ts) continue;
      box.appendChild(messageNode(m, { replies: m.ephemeral ? undefined : replies[m.ts] || 0 }));
    }
    if (!here.length) {
      box.appendChild(el("p", "empty", view.channel === DM
        ? "Send the bot a direct message: ask it anything a member would."
        : "Mention the bot to ask it here; it answers in a thread."));
    }
    if (atBottom || box.dataset.count !== String(here.length)) scroller.scrollTop = scroller.scrollHeight;
    box.dataset.count = String(here.length);
  }

  function renderThread() {
    const pane = $("thread");
    pane.hidden = !view.thread;
    $("app").classList.toggle("thread-open", Boolean(view.thread));
    if (!view.thread) return;
    const { channel, ts } = view.thread;
    const list = $("thread-messages");
    list.replaceChildren();
    const parent = state.messages.find((m) => m.channel === channel && m.ts === ts && !m.ephemeral);
    if (parent) list.appendChild(messageNode(parent, { inThread: true }));
    const replies = state.messages.filter((m) => m.channel === channel && m.thread_ts === ts);
    list.appendChild(el("div", "thread-count", replies.length + (replies.length === 1 ? " reply" : " replies")));
    for (const m of replies) list.appendChild(messageNode(m, { inThread: true }));
    const name = (state.channels.find((c) => c.id === channel) || {}).name || channel;
    $("thread-channel").textContent = channel === DM ? name : "# " + name;
    $("thread-mention-label").hidden = channel === DM;
    list.scrollTop = list.scrollHeight;
  }

  function renderHome() {
    const box = $("home");
    box.replaceChildren();
    if (!state.home) {
      box.appendChild(el("p", "empty", "Opening the Home tab…"));
      return;
    }
    box.appendChild(BlockKit.render(state.home.blocks || [], { names: state.users, onClick: onClick(null, true) }));
  }

  // The modal the bot opened (views.open). Drawn again only when the bot changes it or answers a Save
  // with errors, so a choice being made is not reset by a poll.
  let modalShown = "";
  function renderModal() {
    const dialog = $("modal");
    const modal = state.modal;
    if (!modal) {
      modalShown = "";
      if (dialog.open) dialog.close();
      return;
    }
    const key = JSON.stringify([modal.id, modal.hash, modal.blocks, state.modal_errors]);
    if (key === modalShown) return;
    const chosen = modalValues();
    modalShown = key;
    $("modal-title").textContent = modal.title ? modal.title.text : "";
    const body = BlockKit.render(modal.blocks || [], {
      names: state.users,
      errors: state.modal_errors,
      onClick: () => {},
    });
    for (const select of body.querySelectorAll("select")) {
      const kept = (chosen[select.dataset.blockId] || {})[select.dataset.actionId];
      if (kept) select.value = kept;
    }
    $("modal-body").replaceChildren(body);
    $("modal-close").textContent = modal.close ? modal.close.text : "Close";
    $("modal-submit").hidden = !modal.submit;
    $("modal-submit").textContent = modal.submit ? modal.submit.text : "";
    if (!dialog.open) dialog.showModal();
  }

  function modalValues() {
    const values = {};
    for (const select of $("modal-body").querySelectorAll("select")) {
      if (!select.value) continue;
      (values[select.dataset.blockId] = values[select.dataset.blockId] || {})[select.dataset.actionId] = select.value;
    }
    return values;
  }

  async function submitModal() {
    // As Slack does: a required input left empty is flagged on the page, and nothing is sent.
    const empty = [...$("modal-body").querySelectorAll("select")].filter((s) => !s.value);
    if (empty.length) {
      state.modal_errors = Object.fromEntries(empty.map((s) => [s.dataset.blockId, "Please complete this required field."]));
      modalShown = "";
      renderModal();
      return;
    }
    await api("submit", { values: modalValues() });
    poll();
  }

  async function closeModal() {
    await api("close", {});
    poll();
  }

  async function actAsStaff(staff) {
    await api("as", { staff });
    if (view.channel === DM && view.tab === "home") await api("home", {}); // their own Home
    poll();
  }

  function render() {
    renderSidebar();
    $("as-staff").checked = Boolean(state.staff);
    renderBanner();
    const isApp = view.channel === DM;
    const name = (state.channels.find((c) => c.id === view.channel) || {}).name || view.channel;
    $("channel-name").textContent = isApp ? name : "# " + name;
    $("tabs").hidden = !isApp;
    for (const b of $("tabs").querySelectorAll("button")) b.classList.toggle("active", b.dataset.tab === view.tab);
    const showHome = isApp && view.tab === "home";
    $("home").hidden = !showHome;
    $("messages").hidden = showHome;
    $("composer").hidden = showHome;
    $("mention-label").hidden = isApp;
    $("message-input").placeholder = isApp ? "Message Confed Member Support" : "Message #" + name;
    if (showHome) renderHome();
    else renderMessages();
    renderThread();
    renderModal();
  }

  // --- actions ---

  function selectChannel(id) {
    if (view.thread && view.thread.channel !== id) view.thread = null;
    view.channel = id;
    view.tab = "messages";
    render();
  }

  async function selectTab(tab) {
    view.tab = tab;
    render();
    $("scroller").scrollTop = tab === "home" ? 0 : $("scroller").scrollHeight;
    if (tab === "home") {
      await api("home", {}); // Slack sends app_home_opened every time the tab is opened
      setTimeout(poll, 150);
    }
  }

  function openThread(channel, ts) {
    view.thread = { channel, ts };
    renderThread();
    $("thread-input").focus();
  }

  async function send(input, threadTs, mention) {
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    await api("say", { channel: view.thread && threadTs ? view.thread.channel : view.channel, text, thread_ts: threadTs, mention });
    poll();
  }

  function wireComposer(form, input, threadTs, mentionBox) {
    const submit = () => send(input, threadTs(), view.channel !== DM && mentionBox.checked);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      submit();
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        submit();
      }
    });
  }

  async function openReport() {
    const dialog = $("report");
    const result = await api("report");
    $("report-text").textContent = result.text;
    const groups = $("report-groups");
    groups.replaceChildren();
    for (const g of result.report.unanswered) {
      const row = el("div", "report-group");
      row.appendChild(el("span", "", g.count + " × "));
      row.appendChild(el("q", "", g.text));
      if (g.suggested) {
        row.appendChild(document.createTextNode(" → "));
        row.appendChild(el("code", "intent-id", g.suggested));
        const b = el("button", "bk-btn", "Learn");
        b.type = "button";
        const out = el("pre", "learn-output");
        b.addEventListener("click", async () => {
          const r = await api("learn", { question: g.text, intent: g.suggested });
          out.textContent = r.output.join("\n");
        });
        row.append(b, out);
      }
      groups.appendChild(row);
    }
    if (!dialog.open) dialog.showModal();
  }

  wireComposer($("composer"), $("message-input"), () => null, $("mention"));
  wireComposer($("thread-composer"), $("thread-input"), () => view.thread && view.thread.ts, $("thread-mention"));
  $("close-thread").addEventListener("click", () => {
    view.thread = null;
    renderThread();
  });
  for (const b of $("tabs").querySelectorAll("button")) b.addEventListener("click", () => selectTab(b.dataset.tab));
  $("open-report").addEventListener("click", openReport);
  $("as-staff").addEventListener("change", (e) => actAsStaff(e.target.checked));
  $("modal-submit").addEventListener("click", submitModal);
  $("modal-close").addEventListener("click", closeModal);
  $("modal-x").addEventListener("click", closeModal);
  $("modal").addEventListener("cancel", (e) => {
    e.preventDefault(); // Escape: close it the way Cancel does
    closeModal();
  });
  $("close-report").addEventListener("click", () => $("report").close());
  poll();
})();
