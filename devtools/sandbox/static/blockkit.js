// Block Kit and mrkdwn, drawn as Slack draws them, for the sandbox page.
//
// Safety: every piece of text reaches the page through document.createTextNode or textContent, never
// through innerHTML, so nothing in a message can become markup or script. Entities (&amp; &lt; &gt;)
// are decoded into those text nodes, and a link gets an href only for http, https and mailto.
"use strict";

const BlockKit = (() => {
  const SAFE_URL = /^(https?:|mailto:)/i;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function decode(text) {
    return String(text).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  // Inline spans, earliest first. Formatting marks count only at word edges, as in Slack:
  // "2*3*4" stays as it is, "*bold*" does not.
  const INLINE = [
    { kind: "angle", re: /<([^<>\n]+)>/ },
    { kind: "code", re: /`([^`\n]+)`/ },
    { kind: "b", re: /(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])/ },
    { kind: "i", re: /(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])/ },
    { kind: "s", re: /(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])/ },
  ];

  function angle(inner, names) {
    const bar = inner.indexOf("|");
    const target = decode(bar >= 0 ? inner.slice(0, bar) : inner);
    const label = bar >= 0 ? decode(inner.slice(bar + 1)) : "";
    if (target.startsWith("@")) {
      const id = target.slice(1);
      return el("span", "mention", "@" + (label || names[id] || id));
    }
    if (target.startsWith("#")) {
      return el("span", "mention", "#" + (label || target.slice(1)));
    }
    if (target.startsWith("!")) {
      const name = target.slice(1).split("^")[0];
      return el("span", "mention", label || "@" + name);
    }
    if (SAFE_URL.test(target)) {
      const a = el("a", "link", label || target.replace(/^mailto:/i, ""));
      a.href = target;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      return a;
    }
    return document.createTextNode("<" + decode(inner) + ">");
  }

  function inline(text, parent, names) {
    let rest = text;
    while (rest) {
      let best = null;
      for (const rule of INLINE) {
        const m = rule.re.exec(rest);
        if (m && (best === null || m.index < best.m.index)) best = { rule, m };
      }
      if (best === null) {
        parent.appendChild(document.createTextNode(decode(rest)));
        return;
      }
      const { rule, m } = best;
      if (m.index > 0) parent.appendChild(document.createTextNode(decode(rest.slice(0, m.index))));
      if (rule.kind === "angle") {
        parent.appendChild(angle(m[1], names));
      } else if (rule.kind === "code") {
        parent.appendChild(el("code", "inline-code", decode(m[1])));
      } else {
        const node = el(rule.kind);
        inline(m[1], node, names);
        parent.appendChild(node);
      }
      rest = rest.slice(m.index + m[0].length);
    }
  }

  const BULLET = /^\s*(?:•|◦|▪|-)\s+/;
  const NUMBERED = /^\s*(\d+)[.)]\s+/;
  const QUOTE = /^(?:&gt;|>)\s?/;

  // Lines become paragraphs, bullet lists, numbered lists and quotes; ``` fences become code blocks.
  function mrkdwn(text, names) {
    const root = el("div", "mrkdwn");
    const parts = String(text || "").split("```");
    parts.forEach((part, n) => {
      if (n % 2 === 1) {
        root.appendChild(el("pre", "code-block", decode(part.replace(/^\n/, ""))));
        return;
      }
      let list = null;
      let listKind = "";
      let para = null;
      for (const line of part.split("\n")) {
        const bullet = BULLET.exec(line);
        const numbered = bullet ? null : NUMBERED.exec(line);
        const quote = bullet || numbered ? null : QUOTE.exec(line);
        if (bullet || numbered) {
          const kind = bullet ? "ul" : "ol";
          if (!list || listKind !== kind) {
            list = el(kind);
            listKind = kind;
            if (numbered) list.start = Number(numbered[1]);
            root.appendChild(list);
          }
          const item = el("li");
          inline(line.slice((bullet || numbered)[0].length), item, names);
          list.appendChild(item);
          para = null;
          continue;
        }
        list = null;
        if (quote) {
          const q = el("blockquote");
          inline(line.slice(quote[0].length), q, names);
          root.appendChild(q);
          para = null;
          continue;
        }
        if (line === "") {
          para = null;
          if (root.lastChild && root.lastChild.className !== "gap") root.appendChild(el("div", "gap"));
          continue;
        }
        if (!para) {
          para = el("p");
          root.appendChild(para);
        } else {
          para.appendChild(el("br"));
        }
        inline(line, para, names);
      }
    });
    return root;
  }

  function textObject(obj, names) {
    if (!obj) return el("span");
    if (obj.type === "mrkdwn") return mrkdwn(obj.text, names);
    return el("span", "plain", obj.text);
  }

  function button(element, ctx) {
    const style = element.style === "primary" || element.style === "danger" ? " " + element.style : "";
    const b = el("button", "bk-btn" + style, element.text ? element.text.text : "");
    b.type = "button";
    b.dataset.actionId = element.action_id || "";
    if (element.url && SAFE_URL.test(element.url)) {
      b.title = element.url;
      b.dataset.url = element.url;
    }
    b.addEventListener("click", () => ctx.onClick(ctx.block, element, b));
    return b;
  }

  // A static_select, as in a modal's input block: the page reads its value on Save (data-block-id and
  // data-action-id name it, as the view_submission's state does).
  function staticSelect(elem, ctx) {
    const select = el("select", "bk-select");
    select.dataset.blockId = ctx.block.block_id || "";
    select.dataset.actionId = elem.action_id || "";
    const none = el("option", "", elem.placeholder ? elem.placeholder.text : "Choose an option");
    none.value = "";
    select.appendChild(none);
    const add = (parent, o) => {
      const option = el("option", "", o.text ? o.text.text : o.value);
      option.value = o.value;
      parent.appendChild(option);
    };
    for (const o of elem.options || []) add(select, o);
    for (const g of elem.option_groups || []) {
      const group = el("optgroup");
      group.label = g.label ? g.label.text : "";
      for (const o of g.options || []) add(group, o);
      select.appendChild(group);
    }
    select.value = elem.initial_option ? elem.initial_option.value : "";
    return select;
  }

  function element(elem, ctx) {
    if (elem.type === "button") return button(elem, ctx);
    if (elem.type === "static_select") return staticSelect(elem, ctx);
    if (elem.type === "image") {
      const box = el("span", "bk-image", elem.alt_text || "image");
      box.title = elem.image_url || "";
      return box;
    }
    return el("span", "bk-unsupported", "[" + elem.type + "]");
  }

  function richText(block, names) {
    const root = el("div", "rich-text");
    const inlineEls = (elements, parent) => {
      for (const e of elements || []) {
        let node;
        if (e.type === "text") node = el("span", "", e.text);
        else if (e.type === "link" && SAFE_URL.test(e.url || "")) {
          node = el("a", "link", e.text || e.url);
          node.href = e.url;
          node.target = "_blank";
          node.rel = "noopener noreferrer";
        } else if (e.type === "user") node = el("span", "mention", "@" + (names[e.user_id] || e.user_id));
        else if (e.type === "channel") node = el("span", "mention", "#" + e.channel_id);
        else if (e.type === "emoji") node = el("span", "", ":" + e.name + ":");
        else node = el("span", "", e.text || "");
        const style = e.style || {};
        for (const [flag, tag] of [["code", "code"], ["strike", "s"], ["italic", "i"], ["bold", "b"]]) {
          if (style[flag]) {
            const wrap = el(tag);
            wrap.appendChild(node);
            node = wrap;
          }
        }
        parent.appendChild(node);
      }
    };
    for (const part of block.elements || []) {
      if (part.type === "rich_text_list") {
        const list = el(part.style === "ordered" ? "ol" : "ul");
        for (const item of part.elements || []) {
          const li = el("li");
          inlineEls(item.elements, li);
          list.appendChild(li);
        }
        root.appendChild(list);
      } else if (part.type === "rich_text_preformatted") {
        const pre = el("pre", "code-block");
        inlineEls(part.elements, pre);
        root.appendChild(pre);
      } else if (part.type === "rich_text_quote") {
        const q = el("blockquote");
        inlineEls(part.elements, q);
        root.appendChild(q);
      } else {
        const p = el("p");
        inlineEls(part.elements, p);
        root.appendChild(p);
      }
    }
    return root;
  }

  // blocks: Block Kit JSON. opts.onClick(block, element, buttonNode) is called on a button click;
  // opts.names maps user ids to display names; opts.errors ({block_id: message}) shows under inputs.
  function render(blocks, opts) {
    const names = opts.names || {};
    const errors = opts.errors || {};
    const root = el("div", "blocks");
    for (const block of blocks || []) {
      const ctx = { block, onClick: opts.onClick };
      const wrap = el("div", "block bk-" + block.type);
      if (block.type === "header") {
        wrap.appendChild(el("div", "header-text", block.text ? block.text.text : ""));
      } else if (block.type === "section") {
        const body = el("div", "section-body");
        if (block.text) body.appendChild(textObject(block.text, names));
        if (block.fields && block.fields.length) {
          const fields = el("div", "fields");
          for (const f of block.fields) fields.appendChild(textObject(f, names));
          body.appendChild(fields);
        }
        wrap.appendChild(body);
        if (block.accessory) {
          const side = el("div", "accessory");
          side.appendChild(element(block.accessory, ctx));
          wrap.appendChild(side);
        }
      } else if (block.type === "context") {
        for (const e of block.elements || []) {
          if (e.type === "mrkdwn" || e.type === "plain_text") wrap.appendChild(textObject(e, names));
          else wrap.appendChild(element(e, ctx));
        }
      } else if (block.type === "divider") {
        wrap.appendChild(el("hr"));
      } else if (block.type === "actions") {
        for (const e of block.elements || []) wrap.appendChild(element(e, ctx));
      } else if (block.type === "input") {
        wrap.appendChild(el("div", "input-label", block.label ? block.label.text : ""));
        if (block.element) wrap.appendChild(element(block.element, ctx));
        if (block.hint) wrap.appendChild(el("div", "input-hint", block.hint.text));
        if (errors[block.block_id]) wrap.appendChild(el("div", "input-error", errors[block.block_id]));
      } else if (block.type === "rich_text") {
        wrap.appendChild(richText(block, names));
      } else if (block.type === "image") {
        wrap.appendChild(el("span", "bk-image", block.alt_text || "image"));
      } else {
        wrap.appendChild(el("span", "bk-unsupported", "[unsupported block: " + block.type + "]"));
      }
      root.appendChild(wrap);
    }
    return root;
  }

  return { render, mrkdwn, el };
})();
