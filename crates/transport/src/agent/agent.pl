# tether-agent: runs tether's commands and file operations on this machine, many at once, over
# one SSH channel (requests on stdin, replies on stdout). tether starts it once per connection
# and sends it in the exec request itself; it needs nothing but perl-base. The protocol is
# described in crates/transport/src/agent/wire.rs; the codes a file operation ends with are
# those of tether's shell snippets (101 not found, 102 is a directory, ...).
use strict;
use warnings;
use POSIX ();
use Fcntl qw(F_GETFL F_SETFL O_NONBLOCK O_WRONLY O_CREAT O_EXCL);
use Errno qw(EAGAIN EINTR EEXIST ENOENT ENOTDIR EISDIR EACCES EPERM);
use Cwd ();

$0 = 'tether-agent';
my $NONCE = defined $ARGV[0] ? $ARGV[0] : '';
# Input bytes one command, and one file being written, may have in flight towards this
# process (announced in the hello).
my $EXEC_WINDOW = 1 << 20;
my $WRITE_WINDOW = 8 << 20;
# Replies buffered here before output is read no further.
my $OUT_HIGH = 1 << 20;
my $CHUNK = 65536;
my $FILE_CHUNK = 262144;
my $TICKS = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;
my ($SHELL, $SHELL0) = find_shell();

$SIG{PIPE} = 'IGNORE';
binmode STDIN;
binmode STDOUT;
nonblocking(\*STDOUT);
pipe(my $wake_r, my $wake_w) or die "tether-agent: pipe: $!\n";
nonblocking($wake_r);
nonblocking($wake_w);
$SIG{CHLD} = sub { syswrite($wake_w, 'c') };
# The standard input of commands given none: a pipe at its end, as an SSH channel after EOF.
pipe(my $no_input, my $no_writer) or die "tether-agent: pipe: $!\n";
close($no_writer);
my $turn = 0; # select calls so far: a request is looked at only after the one it was born before

my $out = "\nTETHER-AGENT-1 $NONCE\n";
my $in = '';
my %req;    # id -> request
my %by_pid; # pid -> exec request
reply('h', 0, "1 $$ $EXEC_WINDOW $WRITE_WINDOW $SHELL");

my %on = (
    x => \&start_exec, i => \&input, c => \&close_input, k => \&stop, g => \&grant,
    r => \&start_read, w => \&start_write, t => \&do_stat, m => \&do_mkdir,
);

while (1) {
    flush();
    my ($rin, $win) = ('', '');
    vec($rin, 0, 1) = 1;
    vec($rin, fileno($wake_r), 1) = 1;
    vec($win, 1, 1) = 1 if length $out;
    my $room = length($out) < $OUT_HIGH;
    my $timeout;
    for my $r (values %req) {
        if ($r->{t} eq 'x') {
            if ($r->{discard} || ($room && $r->{credit} > 0)) {
                vec($rin, fileno($r->{o}), 1) = 1 if $r->{o};
                vec($rin, fileno($r->{e}), 1) = 1 if $r->{e};
            }
            vec($win, fileno($r->{i}), 1) = 1 if $r->{i} && length $r->{inbuf};
            $timeout = 0.05 if $r->{kill_at};
        } elsif ($r->{t} eq 'r' && $room && $r->{credit} > 0) {
            $timeout = 0;
        }
    }
    my $n = select(my $rout = $rin, my $wout = $win, undef, $timeout);
    $turn++;
    if ($n < 0) {
        next if $! == EINTR;
        die "tether-agent: select: $!\n";
    }
    if ($n > 0 && vec($rout, fileno($wake_r), 1)) {
        sysread($wake_r, my $ignored, 4096);
        reap();
    }
    read_requests() if $n > 0 && vec($rout, 0, 1);
    for my $id (keys %req) {
        my $r = $req{$id} or next;
        if ($r->{t} eq 'x') {
            next if $r->{born} == $turn;
            for my $which ('o', 'e') {
                pump($r, $which) if $r->{$which} && $n > 0 && vec($rout, fileno($r->{$which}), 1);
            }
            feed($r) if $r->{i} && length $r->{inbuf} && $n > 0 && vec($wout, fileno($r->{i}), 1);
            escalate($r) if $r->{kill_at};
            finish($r);
        } elsif ($r->{t} eq 'r') {
            pump_file($r) if length($out) < $OUT_HIGH && $r->{credit} > 0;
        }
    }
}

# Frames: u32 length of the body, u8 type, u32 request id, body.
sub reply {
    my ($type, $id, $body) = @_;
    $out .= pack('NCN', length $body, ord $type, $id) . $body;
}

sub flush {
    while (length $out) {
        my $n = syswrite(STDOUT, $out);
        if (!defined $n) {
            return if $! == EAGAIN || $! == EINTR;
            hang_up();
        }
        substr($out, 0, $n, '');
    }
}

sub read_requests {
    my $n = sysread(STDIN, $in, 262144, length $in);
    if (!defined $n) {
        return if $! == EAGAIN || $! == EINTR;
        $n = 0;
    }
    hang_up() if $n == 0;
    my $pos = 0;
    while (length($in) - $pos >= 9) {
        my ($len, $type, $id) = unpack('NCN', substr($in, $pos, 9));
        last if length($in) - $pos - 9 < $len;
        my $body = substr($in, $pos + 9, $len);
        $pos += 9 + $len;
        my $handler = $on{chr $type} or next;
        $handler->($id, $body);
    }
    substr($in, 0, $pos, '');
}

# The client went away: hang up the commands still running, as a terminal would, and leave.
sub hang_up {
    for my $r (values %req) {
        kill('HUP', -$r->{pid}) if $r->{t} eq 'x' && !defined $r->{status};
        unlink($r->{tmp}) if $r->{t} eq 'w';
    }
    POSIX::_exit(0);
}

sub nonblocking {
    my ($fh) = @_;
    my $flags = fcntl($fh, F_GETFL, 0) or die "tether-agent: fcntl: $!\n";
    fcntl($fh, F_SETFL, $flags | O_NONBLOCK) or die "tether-agent: fcntl: $!\n";
}

sub now { my ($real) = POSIX::times(); return $real / $TICKS }

sub find_shell {
    for my $name ('bash', 'sh') {
        for my $dir (split /:/, (defined $ENV{PATH} ? $ENV{PATH} : '')) {
            my $path = ($dir eq '' ? '.' : $dir) . "/$name";
            return ($path, $name) if -f $path && -x _;
        }
    }
    return ('/bin/sh', 'sh');
}

# Commands: `bash -c COMMAND` in a new session (so its own process group), with the
# variables given added to this process's environment.
sub start_exec {
    my ($id, $body) = @_;
    my ($flags, $credit, $command, @env) = unpack('C N N/a* N/(N/a*)', $body);
    my ($in_r, $in_w);
    $in_r = $no_input if $flags & 1;
    ($in_r || pipe($in_r, $in_w)) && pipe(my $out_r, my $out_w) && pipe(my $err_r, my $err_w)
        or return reply('z', $id, pack('CNN', 2, 0, 0) . "pipe: $!");
    my $pid = fork;
    if (!defined $pid) {
        return reply('z', $id, pack('CNN', 2, 0, 0) . "fork: $!");
    }
    if ($pid == 0) {
        POSIX::setsid();
        POSIX::dup2(fileno($in_r), 0);
        POSIX::dup2(fileno($out_w), 1);
        POSIX::dup2(fileno($err_w), 2);
        $SIG{PIPE} = 'DEFAULT';
        $SIG{CHLD} = 'DEFAULT';
        while (@env) {
            my $name = shift @env;
            $ENV{$name} = shift @env;
        }
        $ENV{_} = $SHELL;
        { no warnings 'exec'; exec { $SHELL } $SHELL0, '-c', $command; }
        syswrite(STDERR, "tether-agent: cannot run $SHELL: $!\n");
        POSIX::_exit(127);
    }
    close($in_r) if $in_w;
    close($out_w);
    close($err_w);
    nonblocking($in_w) if $in_w;
    my $r = { t => 'x', id => $id, pid => $pid, o => $out_r, e => $err_r, i => $in_w,
              inbuf => '', closing => 0, acked => 0, credit => $credit, born => $turn };
    $req{$id} = $r;
    $by_pid{$pid} = $r;
}

sub reap {
    while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
        my $r = delete $by_pid{$pid} or next;
        $r->{status} = $?;
    }
}

sub pump {
    my ($r, $which) = @_;
    my $want = $r->{credit} < $CHUNK && !$r->{discard} ? $r->{credit} : $CHUNK;
    my $n = sysread($r->{$which}, my $buf, $want);
    if (!defined $n) {
        return if $! == EAGAIN || $! == EINTR;
        $n = 0;
    }
    if ($n == 0) {
        close($r->{$which});
        $r->{$which} = undef;
        return;
    }
    return if $r->{discard};
    $r->{credit} -= $n;
    reply($which, $r->{id}, $buf);
}

# Reports a command once it has exited and both of its output pipes are closed.
sub finish {
    my ($r) = @_;
    return if !defined $r->{status} || $r->{o} || $r->{e};
    my $status = $r->{status};
    my ($kind, $code) = ($status & 127) ? (1, $status & 127) : (0, $status >> 8);
    reply('z', $r->{id}, pack('CNN', $kind, $code, $r->{pid})) if !$r->{discard};
    close($r->{i}) if $r->{i};
    delete $req{$r->{id}};
}

sub input {
    my ($id, $data) = @_;
    my $r = $req{$id} or return;
    if ($r->{t} eq 'w') {
        return write_data($r, $data);
    }
    return if $r->{t} ne 'x';
    if (!$r->{i} || $r->{discard}) {
        # The command stopped reading: its input is dropped, as a closed pipe drops it.
        return reply('a', $id, pack('N', length $data));
    }
    $r->{inbuf} .= $data;
    feed($r);
}

sub feed {
    my ($r) = @_;
    while (length $r->{inbuf}) {
        my $n = syswrite($r->{i}, $r->{inbuf});
        if (!defined $n) {
            last if $! == EAGAIN || $! == EINTR;
            $r->{acked} += length $r->{inbuf};
            $r->{inbuf} = '';
            close($r->{i});
            $r->{i} = undef;
            last;
        }
        substr($r->{inbuf}, 0, $n, '');
        $r->{acked} += $n;
    }
    if ($r->{acked} && ($r->{acked} >= $CHUNK || !length $r->{inbuf})) {
        reply('a', $r->{id}, pack('N', $r->{acked}));
        $r->{acked} = 0;
    }
    if ($r->{i} && $r->{closing} && !length $r->{inbuf}) {
        close($r->{i});
        $r->{i} = undef;
    }
}

sub close_input {
    my ($id) = @_;
    my $r = $req{$id} or return;
    return finish_write($r) if $r->{t} eq 'w';
    return if $r->{t} ne 'x';
    $r->{closing} = 1;
    feed($r) if $r->{i};
}

sub grant {
    my ($id, $body) = @_;
    my $r = $req{$id} or return;
    $r->{credit} += unpack('N', $body);
}

# Stops a request: a command's group gets TERM, and KILL after the grace period in
# milliseconds (flag 1: its output is dropped and its end not reported, as nobody waits for
# it); a file being read is closed; a file being written is removed.
sub stop {
    my ($id, $body) = @_;
    my $r = $req{$id} or return;
    if ($r->{t} eq 'x') {
        my ($flags, $ms) = unpack('C N', $body);
        $r->{discard} = 1 if $flags & 1;
        return if defined $r->{status} && !kill(0, -$r->{pid});
        my $grace = $ms / 1000;
        kill($grace > 0 ? 'TERM' : 'KILL', -$r->{pid});
        $r->{kill_at} = now() + $grace if $grace > 0;
    } elsif ($r->{t} eq 'w') {
        close($r->{fh});
        unlink($r->{tmp});
        delete $req{$id};
    } else {
        close($r->{fh});
        delete $req{$id};
    }
}

sub escalate {
    my ($r) = @_;
    if (!kill(0, -$r->{pid})) {
        delete $r->{kill_at};
    } elsif (now() >= $r->{kill_at}) {
        kill('KILL', -$r->{pid});
        delete $r->{kill_at};
    }
}

# File operations. Each ends with a 'z' frame: kind 0 (3: while creating the directory of a
# file to write), the code tether's shell snippet for the same operation exits with, and a
# message when it failed for another reason.
sub done {
    my ($id, $code, $message, $kind) = @_;
    reply('z', $id, pack('CNN', $kind || 0, $code, 0) . (defined $message ? $message : ''));
}

# `<L|-> <raw mode in hex> <size>`, following symlinks, as the stat snippet prints it.
sub stat_line {
    my ($path) = @_;
    my $link = -l $path ? 'L' : '-';
    my @st = stat($path);
    @st = lstat($path) if !@st && $link eq 'L';
    return undef if !@st;
    return sprintf('%s %x %d', $link, $st[2], $st[7]);
}

sub may { my ($path, $mode) = @_; return POSIX::access($path, $mode) }

sub start_read {
    my ($id, $body) = @_;
    my ($credit, $max_hi, $max_lo, $path) = unpack('N N N a*', $body);
    return done($id, 101) if !-e $path;
    return done($id, 102) if -d _;
    return done($id, 103) if !may($path, POSIX::R_OK());
    my $line = stat_line($path);
    open(my $fh, '<:raw', $path) or return done($id, 1, "cat: $path: $!");
    reply('s', $id, $line);
    my $size = -s $fh;
    return done($id, 108) if $size > $max_hi * 4294967296 + $max_lo;
    $req{$id} = { t => 'r', id => $id, fh => $fh, credit => $credit };
}

sub pump_file {
    my ($r) = @_;
    my $want = $r->{credit} < $FILE_CHUNK ? $r->{credit} : $FILE_CHUNK;
    my $n = sysread($r->{fh}, my $buf, $want);
    if (!defined $n) {
        return if $! == EINTR;
        done($r->{id}, 1, "cat: read error: $!");
    } elsif ($n > 0) {
        $r->{credit} -= $n;
        return reply('o', $r->{id}, $buf);
    } else {
        done($r->{id}, 0);
    }
    close($r->{fh});
    delete $req{$r->{id}};
}

sub do_stat {
    my ($id, $path) = @_;
    return done($id, 101) if !-e $path && !-l $path;
    my $line = stat_line($path);
    return done($id, 101) if !defined $line;
    reply('s', $id, $line);
    done($id, 0);
}

# `mkdir -p PATH`, telling a file in the way from a permission problem; the body is the path
# and then its ancestors, nearest first, each NUL-terminated.
sub do_mkdir {
    my ($id, $body) = @_;
    my ($path, @ancestors) = split /\0/, $body;
    my ($code, $message) = mkdir_all($path, @ancestors);
    done($id, $code, $message);
}

sub mkdir_all {
    my ($path, @ancestors) = @_;
    return 0 if -d $path;
    return 105 if -e $path;
    return 0 if make_path($path);
    for my $a (@ancestors) {
        next if !-e $a;
        return 105 if !-d $a;
        return 103 if !may($a, POSIX::W_OK());
        last;
    }
    return 0 if make_path($path);
    return (1, "mkdir: cannot create directory '$path': $!");
}

sub make_path {
    my ($path) = @_;
    my $prefix = $path =~ m{^/} ? '/' : '';
    my $at = '';
    for my $part (grep { length } split m{/}, $path) {
        $at = $at eq '' ? "$prefix$part" : "$at/$part";
        next if -d $at;
        next if mkdir($at) || ($! == EEXIST && -d $at);
        return 0;
    }
    return 1;
}

# Writes: the body is flags (1: create the directory first), the length, the path, its
# directory and (with flag 1) the directory's ancestors, NUL-separated. The data follows in
# 'i' frames and ends with 'c'; it goes to a temporary file beside the destination, renamed
# over it once all of it arrived.
sub start_write {
    my ($id, $body) = @_;
    my ($flags, $hi, $lo, $names) = unpack('C N N a*', $body);
    my ($path, $dir, @ancestors) = split /\0/, $names, -1;
    if ($flags & 1) {
        my ($code, $message) = mkdir_all($dir, @ancestors);
        return done($id, $code, $message, 3) if $code;
    }
    my $file = $path;
    if (-l $file && -e $file && defined(my $real = Cwd::abs_path($file))) {
        $file = $real;
        ($dir = $file) =~ s{/[^/]*$}{};
        $dir = '/' if $dir eq '';
    }
    return done($id, 102) if -d $file;
    return done($id, 104) if !-e $dir;
    return done($id, 105) if !-d $dir;
    my @existing = stat($file);
    return done($id, 103) if @existing && !may($file, POSIX::W_OK());
    my ($tmp, $fh) = temp_file($dir);
    if (!$fh) {
        return done($id, may($dir, POSIX::W_OK()) ? 106 : 103, "mktemp: $dir: $!");
    }
    my $ok = @existing ? chmod($existing[2] & 07777, $tmp) : chmod(0666 & ~umask, $tmp);
    if (!$ok) {
        my $why = "chmod: $!";
        close($fh);
        unlink($tmp);
        return done($id, 106, $why);
    }
    chown($existing[4], $existing[5], $tmp) if @existing;
    $req{$id} = { t => 'w', id => $id, fh => $fh, tmp => $tmp, file => $file,
                  len => $hi * 4294967296 + $lo, got => 0, acked => 0 };
}

sub temp_file {
    my ($dir) = @_;
    for (1 .. 100) {
        my $name = sprintf('%s/.tether-write.%06x', $dir eq '/' ? '' : $dir, int(rand(16777216)));
        my $fh;
        return ($name, $fh) if sysopen($fh, $name, O_WRONLY | O_CREAT | O_EXCL, 0600);
        return (undef, undef) if $! != EEXIST;
    }
    return (undef, undef);
}

sub write_data {
    my ($r, $data) = @_;
    my $at = 0;
    while ($at < length $data) {
        my $n = syswrite($r->{fh}, $data, length($data) - $at, $at);
        if (!defined $n) {
            next if $! == EINTR;
            return fail_write($r, 106, "cat: write error: $!");
        }
        $at += $n;
    }
    $r->{got} += length $data;
    $r->{acked} += length $data;
    if ($r->{acked} >= $FILE_CHUNK) {
        reply('a', $r->{id}, pack('N', $r->{acked}));
        $r->{acked} = 0;
    }
}

sub fail_write {
    my ($r, $code, $message) = @_;
    close($r->{fh});
    unlink($r->{tmp});
    delete $req{$r->{id}};
    done($r->{id}, $code, $message);
}

sub finish_write {
    my ($r) = @_;
    close($r->{fh}) or return fail_write($r, 106, "cat: write error: $!");
    return fail_write($r, 107) if $r->{got} != $r->{len};
    rename($r->{tmp}, $r->{file}) or return fail_write($r, 106, "mv: $!");
    delete $req{$r->{id}};
    done($r->{id}, 0);
}
