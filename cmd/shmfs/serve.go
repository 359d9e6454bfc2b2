package main

import (
	"fmt"
	"os"

	"github.com/shmfs/shmfs/backing"
	"github.com/shmfs/shmfs/fs"
	"github.com/shmfs/shmfs/internal/keeper"
	"github.com/shmfs/shmfs/nsmodel"
)

// serving is set in a server that a keeper started (shmfs serve, a
// hidden command): mountCmd then serves rather than keeps.
var serving bool

// backgroundEnv tells the servers of a --background keeper that they run
// in the background (for where they log), after the first one, which
// has the ready pipe.
const backgroundEnv = "SHMFS_BACKGROUND"

// serveCmd is shmfs serve: the mount's server, started by its keeper
// with the memfds and the state record it holds (internal/keeper).
func serveCmd(args []string) error {
	serving = true
	return mountCmd(args)
}

// runKeeper is what shmfs mount runs once its flags are read: the keeper
// of the mount on dir, which starts shmfs serve with the same flags and
// starts it again if it dies (docs/crash.md).
func runKeeper(args []string, dir, logPath string, background bool, maxRestarts int) error {
	lg, err := openServerLog(logPath, background, dir, false)
	if err != nil {
		return fmt.Errorf("mount %s: %v", dir, err)
	}
	if background {
		lg.takeStderr()
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("mount %s: %v", dir, err)
	}
	if maxRestarts < 0 {
		return fmt.Errorf("mount %s: --max-restarts %d: not a count", dir, maxRestarts)
	}
	cfg := keeper.Config{Dir: dir, Argv: append([]string{self, "serve"}, args...), Log: lg.Logger, MaxRestarts: maxRestarts}
	if os.Getenv(readyFdEnv) == "3" {
		// The first server answers the --background parent; the keeper
		// must not write there afterwards.
		cfg.Ready = os.NewFile(3, "ready")
		os.Unsetenv(readyFdEnv)
		cfg.ReadyEnv = readyFdEnv + "=3"
	}
	if background {
		os.Setenv(backgroundEnv, "1")
	}
	raiseNofile()
	err = keeper.Run(cfg)
	if code, ok := keeper.ExitCode(err); ok {
		return exitStatus(code)
	}
	return err
}

// serverModel is the model a server serves: rebuilt from what its
// keeper held, and recorded there from now on; a plain one without a
// keeper.
func serverModel(lg *serverLog) (*nsmodel.Model, *keeper.Server, error) {
	conn := keeper.FromEnv()
	if conn == nil {
		return nsmodel.NewModel(backing.New), nil, nil
	}
	srv, err := keeper.Start(conn, lg.Logger)
	if err != nil {
		return nil, nil, err
	}
	if srv.Restored {
		lg.Warn("restarted after a crash: state restored", "restart", conn.Restarts, "records", srv.Records, "torn_tail", srv.Torn)
	}
	return srv.Model, srv, nil
}

// serverSurvivors are the mappings that outlived the server before
// this one, for fs.Config.
func serverSurvivors(srv *keeper.Server) *fs.Survivors {
	if srv == nil {
		return nil
	}
	return srv.Survivors()
}

// serverMounted tells the keeper side that m serves.
func serverMounted(srv *keeper.Server, m *fs.Mount) {
	if srv != nil {
		srv.Mounted(m)
	}
}
