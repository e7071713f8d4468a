package notify

import "strings"

// slackMessage is a Slack incoming-webhook body: text is the notification's
// fallback (and what a plain-text receiver shows), blocks the layout.
type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// slackEscape escapes what Slack's mrkdwn treats as markup.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func slack(m Message) slackMessage {
	md := func(s string) slackText { return slackText{Type: "mrkdwn", Text: s} }
	blocks := []slackBlock{
		{Type: "header", Text: &slackText{Type: "plain_text", Text: clip(Title(m), 150)}},
		// The header names the moment; the section says why.
		{Type: "section", Text: ptr(md(clip(slackEscape.Replace(Why(m)), 3000)))},
	}
	var fields []slackText
	for _, f := range facts(m) {
		fields = append(fields, md(clip("*"+slackEscape.Replace(f[0])+"*\n"+slackEscape.Replace(f[1]), 2000)))
	}
	blocks = append(blocks, slackBlock{Type: "section", Fields: fields})
	if m.Message != "" {
		blocks = append(blocks, slackBlock{Type: "context", Elements: []slackText{md(clip(slackEscape.Replace(m.Message), 3000))}})
	}
	return slackMessage{Text: clip(Summary(m), 3000), Blocks: blocks}
}

func ptr[T any](v T) *T { return &v }
