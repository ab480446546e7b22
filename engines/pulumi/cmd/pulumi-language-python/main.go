// pulumi-language-python: the Python language host the engine starts for this project.
//
// Upstream's host (module .../sdk/python/cmd/pulumi-language-python/v3) is not published
// on the Go module proxy, so this is a small host of our own over the same contract:
// the engine's LanguageRuntime gRPC service, upstream's python toolchain package (which
// resolves Pulumi.yaml's `virtualenv`) and upstream's exec shim
// (pulumi-language-python-exec, shipped in the sdk/v3 module and copied beside this
// binary by engines/build.sh). Policy packs run through RunPlugin with `python -m
// pulumi.policy`, as the SDK's policy runner expects.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	pbempty "google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
)

// version is set by engines/build.sh to the sdk/v3 version the host is built against.
var version = "dev"

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engine string
	exec   string
}

func main() {
	args := os.Args[1:]
	// Flags the engine may pass (-tracing, -root ...) come first; the engine address is last.
	engine := ""
	if len(args) > 0 {
		engine = args[len(args)-1]
	}
	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	h := &host{engine: engine, exec: self + "-exec"}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fail(err)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
	os.Exit(1)
}

func (h *host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.engine = req.GetEngineAddress()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *pbempty.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// Providers are found on PATH when the program registers its first resource.
func (h *host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

// The virtualenv is built by the Makefile, never by the engine.
func (h *host) InstallDependencies(*pulumirpc.InstallDependenciesRequest,
	grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	return nil
}

func python(ctx context.Context, info *pulumirpc.ProgramInfo, args ...string) (*exec.Cmd, error) {
	opts := toolchain.PythonOptions{Root: info.GetRootDirectory(), ProgramDir: info.GetProgramDirectory(),
		Toolchain: toolchain.Pip}
	if o := info.GetOptions(); o != nil {
		if v, ok := o.GetFields()["virtualenv"]; ok {
			opts.Virtualenv = v.GetStringValue()
		}
	}
	tc, err := toolchain.ResolveToolchain(opts)
	if err != nil {
		return nil, err
	}
	return tc.Command(ctx, args...)
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	program := info.GetEntryPoint()
	if program == "" {
		program = "."
	}
	args := []string{"-u", h.exec, "--monitor", req.GetMonitorAddress(), "--engine", h.engine,
		"--project", req.GetProject(), "--stack", req.GetStack(), "--pwd", req.GetPwd(),
		"--root_directory", info.GetRootDirectory(), "--dry_run", fmt.Sprint(req.GetDryRun()),
		"--parallel", fmt.Sprint(req.GetParallel()), "--organization", req.GetOrganization()}
	args = append(append(args, program), req.GetArgs()...)
	cmd, err := python(ctx, info, args...)
	if err != nil {
		return nil, err
	}
	// The exec shim iterates both: never `null`.
	configMap, secretKeys := req.GetConfig(), req.GetConfigSecretKeys()
	if configMap == nil {
		configMap = map[string]string{}
	}
	if secretKeys == nil {
		secretKeys = []string{}
	}
	config, err := json.Marshal(configMap)
	if err != nil {
		return nil, err
	}
	secrets, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	cmd.Dir = req.GetPwd()
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(environ(cmd), "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secrets))
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			// The exec shim has already reported the program's error through the engine.
			return &pulumirpc.RunResponse{Bail: true}, nil
		}
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// RunPlugin serves policy packs: the SDK's runner takes the engine address and the pack.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest,
	srv grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	info := req.GetInfo()
	if info == nil {
		info = &pulumirpc.ProgramInfo{RootDirectory: req.GetPwd(), ProgramDirectory: req.GetPwd()}
	}
	if info.GetOptions() == nil {
		info.Options, _ = structpb.NewStruct(map[string]any{"virtualenv": "venv"})
	}
	args := append([]string{"-u", "-m", "pulumi.policy"}, req.GetArgs()...)
	args = append(args, info.GetProgramDirectory())
	cmd, err := python(srv.Context(), info, args...)
	if err != nil {
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	cmd.Dir = req.GetPwd()
	cmd.Env = append(environ(cmd), req.GetEnv()...)
	stdout, stderr := &stream{srv: srv}, &stream{srv: srv, err: true}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	code := int32(0)
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return err
		}
		code = int32(exit.ExitCode())
	}
	return srv.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}})
}

type stream struct {
	srv grpc.ServerStreamingServer[pulumirpc.RunPluginResponse]
	err bool
}

func (s *stream) Write(p []byte) (int, error) {
	b := append([]byte(nil), p...)
	var out pulumirpc.RunPluginResponse
	if s.err {
		out.Output = &pulumirpc.RunPluginResponse_Stderr{Stderr: b}
	} else {
		out.Output = &pulumirpc.RunPluginResponse_Stdout{Stdout: b}
	}
	if err := s.srv.Send(&out); err != nil {
		return 0, err
	}
	return len(p), nil
}

var _ io.Writer = (*stream)(nil)

// About and GetProgramDependencies feed `pulumi about`; the engine tolerates their absence.
func (h *host) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	return &pulumirpc.AboutResponse{Executable: "python", Version: strings.TrimPrefix(version, "v")}, nil
}

// environ is the command's environment: the toolchain's when it set one, else ours.
func environ(cmd *exec.Cmd) []string {
	if cmd.Env == nil {
		return os.Environ()
	}
	return cmd.Env
}
