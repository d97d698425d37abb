package parley_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/devtoken"
	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/server"
	"github.com/parleyhq/parley/server/servertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var goBlock = regexp.MustCompile("(?s)```go\n(.*?)```")

// Every Go snippet of README.md is, verbatim, a file of this package (after its package clause),
// so it compiles with the tests and the tests below run it.
func TestREADMEGoSnippetsAreFilesOfThisPackage(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	files, err := filepath.Glob("readme_*_test.go")
	require.NoError(t, err)
	sources := map[string]string{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		sources[f] = strings.TrimSpace(strings.TrimPrefix(string(src), "package parley_test\n"))
	}
	blocks := goBlock.FindAllStringSubmatch(string(readme), -1)
	require.NotEmpty(t, blocks, "README.md has no Go snippet")
	for _, block := range blocks {
		snippet := strings.TrimSpace(block[1])
		found := false
		for _, src := range sources {
			found = found || src == snippet
		}
		require.True(t, found, "this README.md snippet is no readme_*_test.go file of the module root; make it one:\n%s", snippet)
	}
}

func TestREADMETypedClientSnippetGreetsTheTeam(t *testing.T) {
	const secret = "a-secret-for-the-readme-snippet-32b"
	baseURL := servertest.Start(t, secret)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	token, err := devtoken.Issue([]byte(secret), "alice", "", "", time.Minute)
	require.NoError(t, err)
	msg, err := greetTeam(ctx, baseURL, token)
	require.NoError(t, err)
	require.Equal(t, "Hello, team", msg.Body)
	require.Equal(t, "alice", msg.SenderId)

	forged, err := devtoken.Issue([]byte("not-the-server-secret-at-all-32b!"), "alice", "", "", time.Minute)
	require.NoError(t, err)
	_, err = greetTeam(ctx, baseURL, forged)
	var problem *api.Problem
	require.ErrorAs(t, err, &problem)
	require.Equal(t, http.StatusUnauthorized, problem.Status)
	require.Equal(t, "invalid_token", problem.Code)
	require.Contains(t, err.Error(), "create conversation: 401 invalid_token: ")
}

// The README's second snippet: bob finds alice's hello by searching and likes it, once however
// often he does; alice sees one 👍 that is not hers; what matches nothing is no error, and a query
// of only common words is refused.
func TestREADMETypedClientSnippetLikesTheBestMatch(t *testing.T) {
	const secret = "a-secret-for-the-readme-snippet-32b"
	baseURL := servertest.Start(t, secret)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	alice, bob, carol := issueToken(t, secret, "alice"), issueToken(t, secret, "bob"), issueToken(t, secret, "carol")

	msg, err := greetTeam(ctx, baseURL, alice)
	require.NoError(t, err)
	for range 2 {
		hit, err := likeBestMatch(ctx, baseURL, bob, "hello")
		require.NoError(t, err)
		require.NotNil(t, hit, "bob's search for hello found nothing")
		require.Equal(t, msg.Id, hit.Message.Id)
		require.Contains(t, hit.Snippet, "<mark>Hello</mark>")
	}

	history := func(token string) api.Message {
		client, err := newClient(baseURL, token)
		require.NoError(t, err)
		page, err := client.ListMessagesWithResponse(ctx, msg.ConversationId, nil)
		require.NoError(t, err)
		require.Nil(t, api.ProblemOf(page))
		require.Len(t, page.JSON200.Items, 1)
		return page.JSON200.Items[0]
	}
	seenByAlice, seenByBob := history(alice), history(bob)
	require.Equal(t, []api.ReactionCount{{Emoji: "👍", Count: 1}}, seenByAlice.Reactions)
	require.Equal(t, []api.ReactionCount{{Emoji: "👍", Count: 1}}, seenByBob.Reactions)
	require.Empty(t, ownReactions(seenByAlice))
	require.Equal(t, []api.Emoji{"👍"}, ownReactions(seenByBob))

	hit, err := likeBestMatch(ctx, baseURL, bob, "goodbye")
	require.NoError(t, err)
	require.Nil(t, hit)
	hit, err = likeBestMatch(ctx, baseURL, carol, "hello") // carol is in no conversation
	require.NoError(t, err)
	require.Nil(t, hit)

	_, err = likeBestMatch(ctx, baseURL, bob, "the")
	var problem *api.Problem
	require.ErrorAs(t, err, &problem)
	require.Equal(t, http.StatusBadRequest, problem.Status)
	require.Equal(t, "invalid_query", problem.Code)
}

func issueToken(t *testing.T, secret, user string) string {
	t.Helper()
	token, err := devtoken.Issue([]byte(secret), user, "", "", time.Minute)
	require.NoError(t, err)
	return token
}

func ownReactions(m api.Message) []api.Emoji {
	if m.MyReactions == nil {
		return nil
	}
	return *m.MyReactions
}

// A failed answer that is not Parley's problem+json (a proxy in front of it) still has a problem.
func TestProblemOfAnAnswerFromAProxy(t *testing.T) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>bad gateway</html>"))
	}))
	defer proxy.Close()
	client, err := api.NewClientWithResponses(proxy.URL)
	require.NoError(t, err)
	resp, err := client.GetMeWithResponse(context.Background())
	require.NoError(t, err)

	problem := api.ProblemOf(resp)
	require.NotNil(t, problem)
	require.Equal(t, http.StatusBadGateway, problem.Status)
	require.Empty(t, problem.Code)
	require.EqualError(t, problem, "502: Bad Gateway")
}

// The README's webhook snippet: the receiver gets alice's hello, signed, and the request to
// notify bob, whose sockets never got it; a forged signature is refused.
func TestREADMEWebhookSnippetReceivesMessagesAndPushRequests(t *testing.T) {
	const secret = "a-secret-for-the-readme-snippet-32b"
	hookSecret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("the readme's webhook key, 32 b.."))
	var mu sync.Mutex
	messages, pushes := map[string]*api.Message{}, map[string]*api.Notification{}
	handler, err := webhookHandler(hookSecret, func(id string, message *api.Message, push *api.Notification) error {
		mu.Lock()
		defer mu.Unlock()
		if message != nil {
			messages[id] = message
		}
		if push != nil {
			pushes[id] = push
		}
		return nil
	})
	require.NoError(t, err)
	receiver := httptest.NewServer(handler)
	t.Cleanup(receiver.Close)
	baseURL := servertest.Start(t, secret, func(cfg *server.Config) {
		cfg.Webhook.URL, cfg.Webhook.Secret = receiver.URL, hookSecret
		cfg.Webhook.NotifyDelay = 100 * time.Millisecond
		cfg.Webhook.PollInterval = 20 * time.Millisecond
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	token, err := devtoken.Issue([]byte(secret), "alice", "", "", time.Minute)
	require.NoError(t, err)
	msg, err := greetTeam(ctx, baseURL, token)
	require.NoError(t, err)

	id := fmt.Sprintf("%s:%d", msg.ConversationId, msg.Seq)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return messages[id] != nil && pushes[id+":bob"] != nil
	}, 10*time.Second, 10*time.Millisecond)
	mu.Lock()
	require.Equal(t, "Hello, team", messages[id].Body)
	require.Equal(t, api.Notification{
		UserId: "bob", ConversationId: msg.ConversationId, Seq: msg.Seq, MessageId: msg.Id, SenderId: "alice", UnreadCount: 1,
	}, *pushes[id+":bob"])
	mu.Unlock()

	forged := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"id":"x","type":"message.created"}`))
	req.Header.Set("webhook-id", "x")
	req.Header.Set("webhook-timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	req.Header.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString([]byte("not a signature")))
	handler.ServeHTTP(forged, req)
	require.Equal(t, http.StatusUnauthorized, forged.Code)
}
