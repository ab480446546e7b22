// pulumi-resource-random: a stand-in for the random provider in the real-engine suite.
//
// github.com/pulumi/pulumi-random/provider/v4 is not published on the Go module proxy at
// any version, so the suite cannot build upstream's provider. This stand-in serves the
// three resources the program uses (RandomPassword, RandomString, RandomBytes) with
// upstream's semantics that the program depends on: every input forces a replacement,
// values come from crypto/rand, and outputs are `result` (or `base64`/`hex`). It is
// listed in docs/guardrails.md among what the fixture does not prove.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"

	"google.golang.org/grpc"
	pbempty "google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// The release requirements.txt pins, marked as this stand-in by its build metadata.
var version = "4.21.4+stand-in"

type provider struct {
	pulumirpc.UnimplementedResourceProviderServer
}

func main() {
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, &provider{})
			return nil
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func (p *provider) GetPluginInfo(context.Context, *pbempty.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (p *provider) Handshake(context.Context, *pulumirpc.ProviderHandshakeRequest,
) (*pulumirpc.ProviderHandshakeResponse, error) {
	return &pulumirpc.ProviderHandshakeResponse{}, nil
}

func (p *provider) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: `{"name":"random","version":"` + version + `"}`}, nil
}

func (p *provider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *provider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *provider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true}, nil
}

func (p *provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

// Diff: upstream marks every input of these resources ForceNew.
func (p *provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, news := req.GetOldInputs().GetFields(), req.GetNews().GetFields()
	var replaces []string
	for k, v := range news {
		if o, ok := olds[k]; !ok || o.String() != v.String() {
			replaces = append(replaces, k)
		}
	}
	for k := range olds {
		if _, ok := news[k]; !ok {
			replaces = append(replaces, k)
		}
	}
	if len(replaces) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME, Replaces: replaces,
		DeleteBeforeReplace: false}, nil
}

func (p *provider) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	in := req.GetProperties().AsMap()
	out, err := generate(req.GetType(), in, req.GetPreview())
	if err != nil {
		return nil, err
	}
	props, err := structpb.NewStruct(out)
	if err != nil {
		return nil, err
	}
	id := "none"
	if !req.GetPreview() {
		id = randomID()
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

func (p *provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (p *provider) Delete(context.Context, *pulumirpc.DeleteRequest) (*pbempty.Empty, error) {
	return &pbempty.Empty{}, nil
}

func (p *provider) Cancel(context.Context, *pbempty.Empty) (*pbempty.Empty, error) {
	return &pbempty.Empty{}, nil
}

const (
	lower   = "abcdefghijklmnopqrstuvwxyz"
	upper   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	numeric = "0123456789"
	special = "!@#$%&*()-_=+[]{}<>:?"
)

func flag(in map[string]any, key string) bool {
	v, ok := in[key].(bool)
	return !ok || v
}

func generate(typ string, in map[string]any, preview bool) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range in {
		out[k] = v
	}
	length, _ := in["length"].(float64)
	if length <= 0 {
		return nil, fmt.Errorf("%s: length must be positive", typ)
	}
	switch typ {
	case "random:index/randomBytes:RandomBytes":
		b := make([]byte, int(length))
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		out["base64"], out["hex"] = base64.StdEncoding.EncodeToString(b), hex.EncodeToString(b)
	case "random:index/randomPassword:RandomPassword", "random:index/randomString:RandomString":
		chars := ""
		for key, set := range map[string]string{"lower": lower, "upper": upper, "numeric": numeric,
			"special": special} {
			if flag(in, key) {
				chars += set
			}
		}
		s, err := pick(chars, int(length))
		if err != nil {
			return nil, err
		}
		out["result"] = s
	default:
		return nil, fmt.Errorf("unknown resource type %s", typ)
	}
	_ = preview
	return out, nil
}

func pick(chars string, n int) (string, error) {
	if chars == "" {
		return "", fmt.Errorf("no character class enabled")
	}
	b := make([]byte, n)
	for i := range b {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(len(chars))))
		if err != nil {
			return "", err
		}
		b[i] = chars[j.Int64()]
	}
	return string(b), nil
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
