package notify

// A Teams Workflows webhook ("When a Teams webhook request is received",
// the replacement of the retired Office 365 connectors) takes a message
// activity whose attachment is an Adaptive Card.

type teamsMessage struct {
	Type        string            `json:"type"`
	Attachments []teamsAttachment `json:"attachments"`
}

type teamsAttachment struct {
	ContentType string    `json:"contentType"`
	ContentURL  *string   `json:"contentUrl"`
	Content     teamsCard `json:"content"`
}

type teamsCard struct {
	Schema  string         `json:"$schema"`
	Type    string         `json:"type"`
	Version string         `json:"version"`
	Body    []teamsElement `json:"body"`
	MSTeams map[string]any `json:"msteams,omitempty"`
}

type teamsElement struct {
	Type   string      `json:"type"`
	Text   string      `json:"text,omitempty"`
	Size   string      `json:"size,omitempty"`
	Weight string      `json:"weight,omitempty"`
	Color  string      `json:"color,omitempty"`
	Wrap   bool        `json:"wrap,omitempty"`
	Facts  []teamsFact `json:"facts,omitempty"`
}

type teamsFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

func teams(m Message) teamsMessage {
	color := "Default"
	switch m.Moment {
	case "RolledBack", "Failed":
		color = "Attention"
	case "Promoted":
		color = "Good"
	case "AwaitingApproval", "DeployWindow":
		color = "Warning"
	}
	var fs []teamsFact
	for _, f := range facts(m) {
		fs = append(fs, teamsFact{Title: f[0], Value: f[1]})
	}
	body := []teamsElement{
		{Type: "TextBlock", Text: Title(m), Size: "Medium", Weight: "Bolder", Color: color, Wrap: true},
	}
	if w := Why(m); w != Title(m) {
		body = append(body, teamsElement{Type: "TextBlock", Text: w, Wrap: true})
	}
	body = append(body, teamsElement{Type: "FactSet", Facts: fs})
	if m.Message != "" {
		body = append(body, teamsElement{Type: "TextBlock", Text: m.Message, Wrap: true, Size: "Small"})
	}
	return teamsMessage{Type: "message", Attachments: []teamsAttachment{{
		ContentType: "application/vnd.microsoft.card.adaptive",
		Content: teamsCard{
			Schema: "http://adaptivecards.io/schemas/adaptive-card.json", Type: "AdaptiveCard", Version: "1.4",
			Body: body, MSTeams: map[string]any{"width": "Full"},
		},
	}}}
}
