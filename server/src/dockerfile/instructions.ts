// The reference tables of the Dockerfile language: every instruction with its syntaxes, flags
// and snippet, the RUN --mount types and their options, the parser directives, the signal names
// STOPSIGNAL accepts and the build args BuildKit predefines. Completion, hover and signature help
// read these tables, and so does the builder, so that the editor and the build agree.
//
// Facts follow BuildKit's Dockerfile frontend 1.x (docker/dockerfile:1 and :1-labs) as its
// reference documents it (https://docs.docker.com/reference/dockerfile/) and as its parser
// (moby/buildkit frontend/dockerfile/instructions) accepts it. The prose is ours.

import type { DirectiveSpec, FlagSpec, FormSpec, InstructionSpec, MountTypeSpec, ParameterSpec } from './spec';

const REFERENCE = 'https://docs.docker.com/reference/dockerfile/';

const FENCE = '```';

function code(body: string, lang = 'dockerfile'): string {
  return `${FENCE}${lang}\n${body}\n${FENCE}`;
}

/** Hover Markdown: what it is, its syntax, a short example, and the reference link. */
function doc(parts: { what: string; syntax: string; example?: string; link?: string; notes?: string }): string {
  const out = [parts.what, code(parts.syntax)];
  if (parts.notes) out.push(parts.notes);
  if (parts.example) out.push('Example:', code(parts.example));
  if (parts.link) out.push(`[Dockerfile reference](${parts.link})`);
  return out.join('\n\n');
}

function form(label: string, docText: string, params: readonly ParameterSpec[]): FormSpec {
  return { label, doc: docText, params };
}

function p(label: string, docText: string): ParameterSpec {
  return { label, doc: docText };
}

// ---------------------------------------------------------------------------------------------
// Flags shared by COPY and ADD

const CHOWN: FlagSpec = {
  name: 'chown',
  summary: 'Owner (user and optional group) of the copied files.',
  doc: doc({
    what:
      'Sets the owner of the copied files and directories; without it they belong to UID 0 and GID 0. ' +
      'Accepts user and group names or numeric IDs; with only a user, the group gets the same numeric ID. ' +
      'Names are looked up in `/etc/passwd` and `/etc/group` of the stage (the build fails if they are missing), ' +
      'so with `--link` only numeric IDs work. Variables are expanded. Not supported for Windows containers.',
    syntax: '--chown=<user>[:<group>]',
    example: 'COPY --chown=1000:1000 app/ /srv/app/\nCOPY --chown=www-data static/ /var/www/',
    link: `${REFERENCE}#copy---chown`,
  }),
  value: 'string',
};

const CHMOD: FlagSpec = {
  name: 'chmod',
  summary: 'Permission bits of the copied files, octal or symbolic.',
  doc: doc({
    what:
      'Sets the mode of the copied files and directories. Octal (`755`, `0644`) works everywhere; ' +
      'symbolic modes in the style of chmod(1) (`+x`, `u=rwX,go=rX`) need Dockerfile 1.14 or later. ' +
      'Variables are expanded. Not supported for Windows containers.',
    syntax: '--chmod=<perms>',
    example: 'COPY --chmod=755 entrypoint.sh /usr/local/bin/\nCOPY --chmod=u=rwX,go=rX site/ /srv/site/',
    link: `${REFERENCE}#copy---chmod`,
  }),
  value: 'string',
  since: '1.2',
};

const LINK: FlagSpec = {
  name: 'link',
  summary: 'Copy into an independent layer that does not depend on the layers below.',
  doc: doc({
    what:
      'Copies the sources into an empty directory and links the resulting layer on top of the stage, ' +
      'instead of writing into the previous filesystem. The layer stays valid when earlier layers change, ' +
      'so it can be reused from cache and rebased onto a new base image without rebuilding. ' +
      'The copy cannot see the previous state: symlinks in the destination path are not followed, and ' +
      '`--chown` must use numeric IDs.',
    syntax: '--link[=<boolean>]',
    example: 'COPY --link --from=build /out/app /usr/local/bin/app',
    link: `${REFERENCE}#copy---link`,
  }),
  value: 'boolean',
  since: '1.4',
};

function excludeFlag(instruction: 'COPY' | 'ADD'): FlagSpec {
  return {
    name: 'exclude',
    summary: 'Leave out files matching a pattern; may be given several times.',
    doc: doc({
      what:
        'Excludes files whose path matches the pattern, even when a source matches them. The pattern uses the ' +
        'same wildcard rules as the sources (Go `filepath.Match`). Repeat the flag for several patterns.',
      syntax: '--exclude=<pattern>',
      example: `${instruction} --exclude=*.md --exclude=test/ . /src/`,
      link: `${REFERENCE}#copy---exclude`,
    }),
    value: 'string',
    repeatable: true,
    since: '1.19',
  };
}

// ---------------------------------------------------------------------------------------------
// Instructions

const FROM: InstructionSpec = {
  name: 'FROM',
  summary: 'Start a new build stage from a base image.',
  doc: doc({
    what:
      'Starts a new build stage whose filesystem and configuration come from a base image (or `scratch`, ' +
      'an empty one). Only parser directives, comments and global `ARG`s may precede the first `FROM`. ' +
      '`AS <name>` names the stage so a later `FROM`, `COPY --from` or `RUN --mount=from=` can use it. ' +
      'Without a tag or digest the `latest` tag is pulled. The line may use global `ARG`s (declared before the ' +
      'first `FROM`) and the automatic platform args such as `$BUILDPLATFORM`.',
    syntax: 'FROM [--platform=<platform>] <image>[:<tag>|@<digest>] [AS <name>]',
    example: 'ARG GO_VERSION=1.22\nFROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build\nFROM gcr.io/distroless/static\nCOPY --from=build /out/app /app',
    link: `${REFERENCE}#from`,
  }),
  forms: [
    form('FROM [--platform=<platform>] <image> [AS <name>]', 'Base a stage on an image; `latest` is implied.', [
      p('[--platform=<platform>]', 'Platform to pick from a multi-platform image, e.g. `linux/arm64` or `$BUILDPLATFORM`.'),
      p('<image>', 'Image reference, a previous stage name, or `scratch`.'),
      p('[AS <name>]', 'Stage name, lower case, for `FROM`, `COPY --from` and `RUN --mount=from=`.'),
    ]),
    form('FROM [--platform=<platform>] <image>[:<tag>] [AS <name>]', 'Base a stage on a tagged image.', [
      p('[--platform=<platform>]', 'Platform to pick from a multi-platform image.'),
      p('<image>', 'Image reference without its tag.'),
      p('[:<tag>]', 'Tag of the image, e.g. `3.20`; `latest` if omitted.'),
      p('[AS <name>]', 'Stage name.'),
    ]),
    form('FROM [--platform=<platform>] <image>[@<digest>] [AS <name>]', 'Base a stage on an image pinned by digest.', [
      p('[--platform=<platform>]', 'Platform to pick from a multi-platform image.'),
      p('<image>', 'Image reference.'),
      p('[@<digest>]', 'Content digest, e.g. `sha256:…`, pinning the exact manifest or index.'),
      p('[AS <name>]', 'Stage name.'),
    ]),
  ],
  flags: [
    {
      name: 'platform',
      summary: 'Platform of the base image to use.',
      doc: doc({
        what:
          'Selects the platform variant of a multi-platform base image. Defaults to the target platform of ' +
          'the build. Global `ARG`s can be used, typically `$BUILDPLATFORM` to run a stage natively and ' +
          'cross-compile for `$TARGETPLATFORM` (a constant value draws the `FromPlatformFlagConstDisallowed` check).',
        syntax: '--platform=<os>/<arch>[/<variant>]',
        example: 'FROM --platform=$BUILDPLATFORM golang:1.22 AS build\nFROM --platform=linux/arm64 alpine',
        link: `${REFERENCE}#from`,
      }),
      value: 'string',
    },
  ],
  snippet: '${1:image}:${2:tag}',
  expands: true,
  onbuild: false,
  heredoc: false,
  link: `${REFERENCE}#from`,
};

const RUN: InstructionSpec = {
  name: 'RUN',
  summary: 'Execute a command at build time in a new layer.',
  doc: doc({
    what:
      'Runs a command on top of the current filesystem during the build and commits the result as a new layer. ' +
      'The shell form goes through the current `SHELL` (`/bin/sh -c` on Linux); the exec form (a JSON array) ' +
      'runs the program directly with no shell processing; a heredoc supplies a multi-line script. ' +
      'Variables are expanded by the shell, not by the builder. Options add mounts, choose the network and ' +
      'the security mode of the step.',
    syntax: 'RUN [OPTIONS] <command> ...\nRUN [OPTIONS] ["<executable>", "<param1>", ...]\nRUN [OPTIONS] <<EOF\n…\nEOF',
    example:
      'RUN --mount=type=cache,target=/var/cache/apt \\\n    apt-get update && apt-get install -y curl\nRUN <<EOF\nset -e\nmake build\nEOF',
    link: `${REFERENCE}#run`,
  }),
  forms: [
    form('RUN [OPTIONS] <command> ...', 'Shell form: the command line is run by the current `SHELL`.', [
      p('[OPTIONS]', '`--mount`, `--network`, `--security`, `--device`.'),
      p('<command> ...', 'Command line for the shell; continue it over lines with the escape character.'),
    ]),
    form('RUN [OPTIONS] ["<executable>", "<param1>", ...]', 'Exec form: run a program directly, without a shell.', [
      p('[OPTIONS]', '`--mount`, `--network`, `--security`, `--device`.'),
      p('"<executable>"', 'Program to run, as a JSON string (double quotes; escape backslashes).'),
      p('"<param1>", ...', 'Its arguments, one JSON string each.'),
    ]),
    form('RUN [OPTIONS] <<EOF [<command>]', 'Heredoc form: the lines up to `EOF` form the script.', [
      p('[OPTIONS]', '`--mount`, `--network`, `--security`, `--device`.'),
      p('<<EOF', 'Heredoc marker; the body ends at a line holding only the delimiter. `<<-EOF` strips leading tabs; a quoted delimiter disables expansion.'),
      p('[<command>]', 'Optional program that reads the body on standard input (e.g. `bash`, `python3`); without one the body runs in the default shell, or by its `#!` line.'),
    ]),
  ],
  flags: [
    {
      name: 'mount',
      summary: 'Mount a filesystem (context, stage, cache, tmpfs, secret, ssh agent) for this step.',
      doc: doc({
        what:
          'Makes a filesystem available to the command while it runs; nothing written to the mount ends up in ' +
          'the layer. `type` is `bind` (default), `cache`, `tmpfs`, `secret` or `ssh`; the other options depend ' +
          'on the type. Option values may use variables, except `from`. Repeat the flag for several mounts.',
        syntax: '--mount=[type=<type>][,<option>=<value>...]',
        example:
          'RUN --mount=type=cache,target=/root/.cache/go-build \\\n    --mount=type=bind,target=. \\\n    go build -o /out/app ./cmd/app',
        link: `${REFERENCE}#run---mount`,
      }),
      value: 'keyValues',
      repeatable: true,
      since: '1.2',
    },
    {
      name: 'network',
      summary: 'Network of the step: default, none or host.',
      doc: doc({
        what:
          'Chooses the network the command runs in: `default` (same as no flag), `none` (only loopback, useful to ' +
          'prove a step needs no downloads) or `host` (the host\'s network; requires the `network.host` entitlement ' +
          'on the daemon and the build).',
        syntax: '--network=<default|none|host>',
        example: 'RUN --network=none pip install --no-index --find-links /wheels app',
        link: `${REFERENCE}#run---network`,
      }),
      value: 'string',
      values: ['default', 'none', 'host'],
      since: '1.3',
    },
    {
      name: 'security',
      summary: 'Security mode of the step: sandbox or insecure.',
      doc: doc({
        what:
          '`sandbox` (the default) runs the step in the usual confined container. `insecure` runs it with all ' +
          'capabilities and no sandbox, like `docker run --privileged`; it requires the `security.insecure` ' +
          'entitlement on the daemon and the build. Stable since Dockerfile 1.20 (before that, labs only).',
        syntax: '--security=<sandbox|insecure>',
        example: 'RUN --security=insecure mount -t tmpfs none /mnt',
        link: `${REFERENCE}#run---security`,
      }),
      value: 'string',
      values: ['sandbox', 'insecure'],
      since: '1.20',
    },
    {
      name: 'device',
      summary: 'Give the step access to a CDI device (e.g. a GPU).',
      doc: doc({
        what:
          'Requests a Container Device Interface (CDI) device registered with BuildKit (0.20 or later), by ' +
          'name (`vendor.com/class=name`), by kind (`vendor.com/class` for the first, `=*` for all) or by ' +
          'device class. `required` fails the step when the device is missing. Protected by the `device` ' +
          'entitlement. Repeat the flag for several devices.',
        syntax: '--device=<name>[,required]',
        example: 'RUN --device=nvidia.com/gpu=all nvidia-smi',
        link: `${REFERENCE}#run---device`,
      }),
      value: 'keyValues',
      repeatable: true,
      since: '1.14-labs',
    },
  ],
  snippet: '${1:command}',
  expands: false,
  onbuild: true,
  heredoc: true,
  link: `${REFERENCE}#run`,
};

const CMD: InstructionSpec = {
  name: 'CMD',
  summary: 'Default command, or default arguments of the ENTRYPOINT, of a container.',
  doc: doc({
    what:
      'Sets what a container runs when started without a command: either a full command, or the default ' +
      'arguments appended to an exec-form `ENTRYPOINT`. It runs nothing at build time. Arguments to ' +
      '`docker run` replace it, and only the last `CMD` of the stage counts. With an `ENTRYPOINT`, write both ' +
      'in exec form.',
    syntax: 'CMD ["<executable>", "<param1>", ...]\nCMD ["<param1>", ...]\nCMD <command> <param1> ...',
    example: 'ENTRYPOINT ["nginx"]\nCMD ["-g", "daemon off;"]',
    link: `${REFERENCE}#cmd`,
  }),
  forms: [
    form('CMD ["<executable>", "<param1>", "<param2>"]', 'Exec form: run a program directly, without a shell (preferred).', [
      p('"<executable>"', 'Program to run, as a JSON string.'),
      p('"<param1>"', 'First argument.'),
      p('"<param2>"', 'Further arguments.'),
    ]),
    form('CMD ["<param1>", "<param2>"]', 'Default parameters to ENTRYPOINT: arguments appended to an exec-form `ENTRYPOINT`.', [
      p('"<param1>"', 'First default argument.'),
      p('"<param2>"', 'Further default arguments.'),
    ]),
    form('CMD <command> <param1> <param2>', 'Shell form: run through `/bin/sh -c` (or the current `SHELL`).', [
      p('<command>', 'Command for the shell.'),
      p('<param1>', 'First argument.'),
      p('<param2>', 'Further arguments.'),
    ]),
  ],
  flags: [],
  snippet: '["${1:executable}"]',
  expands: false,
  onbuild: true,
  heredoc: false,
  link: `${REFERENCE}#cmd`,
};

const LABEL: InstructionSpec = {
  name: 'LABEL',
  summary: 'Add key-value metadata to the image.',
  doc: doc({
    what:
      'Attaches metadata to the image as key-value pairs, several per instruction if you like. Quote keys or ' +
      'values that hold spaces (double quotes, so variables still expand). Labels of the base image are ' +
      'inherited; a later value for the same key replaces an earlier one. Read them with `docker image inspect`.',
    syntax: 'LABEL <key>=<value> [<key>=<value>...]',
    example: 'LABEL org.opencontainers.image.source="https://github.com/example/app" \\\n      org.opencontainers.image.version="1.2.0"',
    link: `${REFERENCE}#label`,
  }),
  forms: [
    form('LABEL <key>=<value> [<key>=<value>...]', 'Set one or more labels.', [
      p('<key>=<value>', 'Label key (reverse-DNS by convention, e.g. `org.opencontainers.image.title`) and its value.'),
      p('[<key>=<value>...]', 'More labels.'),
    ]),
  ],
  flags: [],
  snippet: '${1:key}="${2:value}"',
  expands: true,
  onbuild: true,
  heredoc: false,
  link: `${REFERENCE}#label`,
};

const MAINTAINER: InstructionSpec = {
  name: 'MAINTAINER',
  summary: 'Deprecated: set the author of the image; use a LABEL instead.',
  doc: doc({
    what:
      '**Deprecated.** Sets the Author field of the image. A label carries the same information and can be ' +
      'queried like any other: `LABEL org.opencontainers.image.authors="…"`. Not allowed as an `ONBUILD` trigger.',
    syntax: 'MAINTAINER <name>',
    example: 'LABEL org.opencontainers.image.authors="dev@example.com"',
    link: `${REFERENCE}#maintainer-deprecated`,
  }),
  forms: [form('MAINTAINER <name>', 'Set the Author field (deprecated).', [p('<name>', 'Name and e-mail of the author.')])],
  flags: [],
  snippet: '${1:name}',
  expands: false,
  onbuild: false,
  heredoc: false,
  deprecated: true,
  link: `${REFERENCE}#maintainer-deprecated`,
};

const EXPOSE: InstructionSpec = {
  name: 'EXPOSE',
  summary: 'Document the ports the container listens on.',
  doc: doc({
    what:
      'Records the network ports the application listens on, with protocol `tcp` (the default) or `udp`; a ' +
      'range `8000-8010` is accepted. It publishes nothing: `docker run -p` maps ports, and `-P` maps every ' +
      'exposed port to a random host port. To expose both protocols of a port, list it twice.',
    syntax: 'EXPOSE <port>[/<protocol>] [<port>[/<protocol>]...]',
    example: 'EXPOSE 80 443/tcp\nEXPOSE 53/udp',
    link: `${REFERENCE}#expose`,
  }),
  forms: [
    form('EXPOSE <port>[/<protocol>] [<port>[/<protocol>]...]', 'Declare listening ports.', [
      p('<port>', 'Port number, or a range `start-end`.'),
      p('[/<protocol>]', '`tcp` (default) or `udp`, lower case.'),
      p('[<port>[/<protocol>]...]', 'More ports.'),
    ]),
  ],
  flags: [],
  snippet: '${1:port}',
  expands: true,
  onbuild: true,
  heredoc: false,
  link: `${REFERENCE}#expose`,
};

const ENV: InstructionSpec = {
  name: 'ENV',
  summary: 'Set environment variables for later instructions and the container.',
  doc: doc({
    what:
      'Sets environment variables for the rest of the stage, for stages built on it, and for containers run ' +
      'from the image (`docker run --env` overrides them). Values are expanded and unescaped quotes removed; ' +
      'all variables in one instruction see the values from before it. For a value needed only during the ' +
      'build, prefer `ARG` or a per-command assignment. The legacy `ENV <key> <value>` form sets a single ' +
      'variable and is discouraged (`LegacyKeyValueFormat`).',
    syntax: 'ENV <key>=<value> [<key>=<value>...]',
    example: 'ENV APP_HOME=/srv/app \\\n    PATH="/srv/app/bin:$PATH"',
    link: `${REFERENCE}#env`,
  }),
  forms: [
    form('ENV <key>=<value> [<key>=<value>...]', 'Set one or more variables.', [
      p('<key>=<value>', 'Variable name and value; quote or escape spaces.'),
      p('[<key>=<value>...]', 'More variables.'),
    ]),
    form('ENV <key> <value>', 'Legacy form: one variable, the rest of the line is its value (discouraged).', [
      p('<key>', 'Variable name.'),
      p('<value>', 'Everything after the first space, spaces included.'),
    ]),
  ],
  flags: [],
  snippet: '${1:key}=${2:value}',
  expands: true,
  onbuild: true,
  heredoc: false,
  link: `${REFERENCE}#env`,
};

const ADD: InstructionSpec = {
  name: 'ADD',
  summary: 'Add local files, remote URLs or Git repositories to the image.',
  doc: doc({
    what:
      'Copies sources into the image like `COPY`, and more: a local tar archive (plain, gzip, bzip2, xz or ' +
      'zstd, detected by content) is extracted; an `http(s)://` URL is downloaded (not extracted unless ' +
      '`--unpack`); a Git repository (`https://…/repo.git#ref:subdir` or `git@host:repo.git`) is cloned ' +
      'without its `.git` directory. With several sources the destination must end with `/`. Prefer `COPY` ' +
      'for plain local files.',
    syntax: 'ADD [OPTIONS] <src> ... <dest>\nADD [OPTIONS] ["<src>", ... "<dest>"]',
    example:
      'ADD --unpack=true https://example.com/tool-1.2.tar.gz /opt/\nADD https://github.com/moby/buildkit.git#v0.14.1:docs /docs',
    link: `${REFERENCE}#add`,
  }),
  forms: [
    form('ADD [OPTIONS] <src> ... <dest>', 'Add one or more sources.', [
      p('[OPTIONS]', '`--chown`, `--chmod`, `--link`, `--keep-git-dir`, `--checksum`, `--unpack`, `--exclude`.'),
      p('<src> ...', 'Context paths (wildcards allowed), URLs or Git repositories.'),
      p('<dest>', 'Destination in the image; relative to `WORKDIR`; a trailing `/` makes it a directory.'),
    ]),
    form('ADD [OPTIONS] ["<src>", ... "<dest>"]', 'JSON form, needed for paths with spaces.', [
      p('[OPTIONS]', '`--chown`, `--chmod`, `--link`, `--keep-git-dir`, `--checksum`, `--unpack`, `--exclude`.'),
      p('"<src>", ...', 'Sources as JSON strings.'),
      p('"<dest>"', 'Destination as a JSON string.'),
    ]),
    form('ADD [OPTIONS] <<EOF <dest>', 'Heredoc form: the lines up to `EOF` become the file `<dest>`.', [
      p('[OPTIONS]', '`--chown`, `--chmod`, `--link`.'),
      p('<<EOF', 'Heredoc marker; the body is the file content.'),
      p('<dest>', 'Path of the file to create.'),
    ]),
  ],
  flags: [
    CHOWN,
    CHMOD,
    LINK,
    {
      name: 'keep-git-dir',
      summary: 'Keep the .git directory when adding a Git repository.',
      doc: doc({
        what: 'When the source is a Git repository, also copies its `.git` directory, which is left out by default.',
        syntax: '--keep-git-dir[=<boolean>]',
        example: 'ADD --keep-git-dir=true https://github.com/moby/buildkit.git#v0.10.1 /buildkit',
        link: `${REFERENCE}#add---keep-git-dir`,
      }),
      value: 'boolean',
      since: '1.1',
    },
    {
      name: 'checksum',
      summary: 'Verify a remote source: sha256 digest of a URL, or commit of a Git source.',
      doc: doc({
        what:
          'Fails the build unless the remote source matches. For an HTTP(S) source, the SHA-256 digest of the ' +
          'content, written `sha256:<hex>` (the only algorithm supported). For a Git source, the commit SHA, in ' +
          'full or as a prefix.',
        syntax: '--checksum=<sha256:hex | commit>',
        example: 'ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d \\\n    https://mirrors.edge.kernel.org/pub/linux/kernel/Historic/linux-0.01.tar.gz /',
        link: `${REFERENCE}#add---checksum`,
      }),
      value: 'string',
      since: '1.6',
    },
    {
      name: 'unpack',
      summary: 'Whether to extract tar archives (local ones are extracted by default, remote ones not).',
      doc: doc({
        what:
          'Overrides whether a tar archive source (including gzip, bzip2, xz and zstd compressed ones) is ' +
          'extracted into the destination. By default local archives are extracted and downloaded ones are ' +
          'stored as files.',
        syntax: '--unpack[=<boolean>]',
        example: 'ADD --unpack=true https://example.com/archive.tar.gz /download\nADD --unpack=false vendor.tar.gz /srv/',
        link: `${REFERENCE}#add---unpack`,
      }),
      value: 'boolean',
      since: '1.17',
    },
    excludeFlag('ADD'),
  ],
  snippet: '${1:source} ${2:dest}',
  expands: true,
  onbuild: true,
  heredoc: true,
  link: `${REFERENCE}#add`,
};

const COPY: InstructionSpec = {
  name: 'COPY',
  summary: 'Copy files from the context, a stage, a named context or an image.',
  doc: doc({
    what:
      'Copies files and directories into the image. Sources come from the build context, or with `--from` ' +
      'from another stage, a named context or an image. Sources may use Go `filepath.Match` wildcards; ' +
      'a directory source copies its contents, not itself; with several sources the destination must end ' +
      'with `/`. A relative destination is resolved against `WORKDIR`; missing directories are created.',
    syntax: 'COPY [OPTIONS] <src> ... <dest>\nCOPY [OPTIONS] ["<src>", ... "<dest>"]',
    example: 'COPY package.json package-lock.json ./\nCOPY --from=build --chmod=755 /out/app /usr/local/bin/app',
    link: `${REFERENCE}#copy`,
  }),
  forms: [
    form('COPY [OPTIONS] <src> ... <dest>', 'Copy one or more sources.', [
      p('[OPTIONS]', '`--from`, `--chown`, `--chmod`, `--link`, `--parents`, `--exclude`.'),
      p('<src> ...', 'Paths relative to the context (or to the root of `--from`); wildcards allowed.'),
      p('<dest>', 'Destination in the image; relative to `WORKDIR`; a trailing `/` makes it a directory.'),
    ]),
    form('COPY [OPTIONS] ["<src>", ... "<dest>"]', 'JSON form, needed for paths with spaces.', [
      p('[OPTIONS]', '`--from`, `--chown`, `--chmod`, `--link`, `--parents`, `--exclude`.'),
      p('"<src>", ...', 'Sources as JSON strings.'),
      p('"<dest>"', 'Destination as a JSON string.'),
    ]),
    form('COPY [--from=<image|stage|context>] <src> ... <dest>', 'Copy from another stage, a named context or an image.', [
      p('[--from=<image|stage|context>]', 'Stage name (or index), named context, or image reference.'),
      p('<src> ...', 'Paths from the root of that filesystem.'),
      p('<dest>', 'Destination in the image.'),
    ]),
    form('COPY [OPTIONS] <<EOF <dest>', 'Heredoc form: the lines up to `EOF` become the file `<dest>`.', [
      p('[OPTIONS]', '`--chown`, `--chmod`, `--link`.'),
      p('<<EOF', 'Heredoc marker; the body is the file content (variables expand unless the delimiter is quoted).'),
      p('<dest>', 'Path of the file to create.'),
    ]),
  ],
  flags: [
    {
      name: 'from',
      summary: 'Copy from a build stage, a named context or an image instead of the context.',
      doc: doc({
        what:
          'Takes the sources from another filesystem: a stage of this Dockerfile (by name, or by index), a ' +
          'named context passed with `--build-context`, or an image reference. Source paths are resolved from ' +
          'the root of that filesystem. Variables are expanded.',
        syntax: '--from=<stage|context|image>',
        example: 'COPY --from=build /out/app /usr/local/bin/\nCOPY --from=nginx:latest /etc/nginx/nginx.conf /nginx.conf',
        link: `${REFERENCE}#copy---from`,
      }),
      value: 'string',
    },
    CHOWN,
    CHMOD,
    LINK,
    {
      name: 'parents',
      summary: 'Keep the parent directories of each source under the destination.',
      doc: doc({
        what:
          'Recreates each source\'s parent directories under the destination, like `cp --parents` or ' +
          '`rsync --relative`. A `./` inside a source path marks where the kept part begins; `**` matches any ' +
          'number of directories. Stable since Dockerfile 1.20 (before that, labs only).',
        syntax: '--parents[=<boolean>]',
        example: 'COPY --parents ./x/a.txt ./y/a.txt /out/   # /out/x/a.txt, /out/y/a.txt\nCOPY --parents ./src/./pkg/**/*.go /work/  # /work/pkg/…',
        link: `${REFERENCE}#copy---parents`,
      }),
      value: 'boolean',
      since: '1.20',
    },
    excludeFlag('COPY'),
  ],
  snippet: '${1:source} ${2:dest}',
  expands: true,
  onbuild: true,
  heredoc: true,
  link: `${REFERENCE}#copy`,
};

const ENTRYPOINT: InstructionSpec = {
  name: 'ENTRYPOINT',
  summary: 'Executable that containers of the image run.',
  doc: doc({
    what:
      'Makes the container run as an executable. In exec form, `CMD` (or the arguments to `docker run`) is ' +
      'appended to it and the program runs as PID 1, receiving signals. The shell form runs under ' +
      '`/bin/sh -c`, ignores `CMD` and run arguments, and the program does not receive `docker stop`\'s signal ' +
      'unless started with `exec`. Only the last `ENTRYPOINT` counts; setting one clears a `CMD` inherited ' +
      'from the base image. Override with `docker run --entrypoint`.',
    syntax: 'ENTRYPOINT ["<executable>", "<param1>", ...]\nENTRYPOINT <command> <param1> ...',
    example: 'ENTRYPOINT ["/usr/local/bin/app"]\nCMD ["--port", "8080"]',
    link: `${REFERENCE}#entrypoint`,
  }),
  forms: [
    form('ENTRYPOINT ["<executable>", "<param1>", "<param2>"]', 'Exec form (preferred): `CMD` is appended as arguments.', [
      p('"<executable>"', 'Program to run, as a JSON string.'),
      p('"<param1>"', 'First fixed argument.'),
      p('"<param2>"', 'Further fixed arguments.'),
    ]),
    form('ENTRYPOINT <command> <param1> <param2>', 'Shell form: run under `/bin/sh -c`; `CMD` is ignored.', [
      p('<command>', 'Command for the shell; start it with `exec` so it receives signals.'),
      p('<param1>', 'First argument.'),
      p('<param2>', 'Further arguments.'),
    ]),
  ],
  flags: [],
  snippet: '["${1:executable}"]',
  expands: false,
  onbuild: true,
  heredoc: false,
  link: `${REFERENCE}#entrypoint`,
};

const VOLUME: InstructionSpec = {
  name: 'VOLUME',
  summary: 'Declare mount points for externally managed volumes.',
  doc: doc({
    what:
      'Marks paths as volumes: each container gets a volume there, initialised from what the image holds at ' +
      'that path. The host side is chosen when the container is created; a Dockerfile cannot bind a host ' +
      'directory. With BuildKit, changes made to the path by later build steps are kept.',
    syntax: 'VOLUME ["<path>", ...]\nVOLUME <path> [<path>...]',
    example: 'VOLUME /var/lib/postgresql/data\nVOLUME ["/var/log", "/var/cache"]',
    link: `${REFERENCE}#volume`,
  }),
  forms: [
    form('VOLUME ["<path>", ...]', 'JSON form.', [
      p('"<path>"', 'Mount point as a JSON string.'),
      p('...', 'More mount points.'),
    ]),
    form('VOLUME <path> [<path>...]', 'Plain form.', [
      p('<path>', 'Mount point in the container.'),
      p('[<path>...]', 'More mount points.'),
    ]),
  ],
  flags: [],
  snippet: '${1:/data}',
  expands: true,
  onbuild: true,
  heredoc: false,
  link: `${REFERENCE}#volume`,
};

const USER: InstructionSpec = {
  name: 'USER',
  summary: 'User (and group) for later RUN steps and for the container.',
  doc: doc({
    what:
      'Sets the user, and optionally the group, that later `RUN` instructions and the container\'s ' +
      '`ENTRYPOINT` and `CMD` run as, for the rest of the stage. With a group given, the user has only that ' +
      'group (supplementary groups are dropped); a user without a primary group runs with group `root`. ' +
      'On Windows the account must exist first.',
    syntax: 'USER <user>[:<group>]\nUSER <UID>[:<GID>]',
    example: 'RUN useradd --system --uid 10001 app\nUSER app\nUSER 10001:10001',
    link: `${REFERENCE}#user`,
  }),
  forms: [
    form('USER <user>[:<group>]', 'By name.', [
      p('<user>', 'User name from the image\'s `/etc/passwd`.'),
      p('[:<group>]', 'Group name; the user then has only this group.'),
    ]),
    form('USER <UID>[:<GID>]', 'By numeric ID (needs no passwd entry).', [
      p('<UID>', 'Numeric user ID.'),
      p('[:<GID>]', 'Numeric group ID.'),
    ]),
  ],
  flags: [],
  snippet: '${1:user}',
  expands: true,
  onbuild: true,
  heredoc: false,
  link: `${REFERENCE}#user`,
};

const WORKDIR: InstructionSpec = {
  name: 'WORKDIR',
  summary: 'Working directory for later instructions and the container.',
  doc: doc({
    what:
      'Sets the working directory for the `RUN`, `CMD`, `ENTRYPOINT`, `COPY` and `ADD` instructions that ' +
      'follow, creating it if needed. A relative path is resolved against the previous `WORKDIR` ' +
      '(`WorkdirRelativePath` warns when there is none). Variables set with `ENV` or `ARG` are expanded. ' +
      'The default is `/`, unless the base image sets one.',
    syntax: 'WORKDIR <path>',
    example: 'WORKDIR /srv\nWORKDIR app   # now /srv/app',
    link: `${REFERENCE}#workdir`,
  }),
  forms: [form('WORKDIR <path>', 'Change the working directory.', [p('<path>', 'Absolute path, or relative to the previous `WORKDIR`.')])],
  flags: [],
  snippet: '${1:/path}',
  expands: true,
  onbuild: true,
  heredoc: false,
  link: `${REFERENCE}#workdir`,
};

const ARG: InstructionSpec = {
  name: 'ARG',
  summary: 'Declare a build argument, with an optional default.',
  doc: doc({
    what:
      'Declares a variable that `docker build --build-arg <name>=<value>` can set. It is in scope from the ' +
      'line that declares it to the end of the stage (and in stages based on it). An `ARG` before the first ' +
      '`FROM` is global: usable in `FROM` lines, and inside a stage after re-declaring it without a value. ' +
      '`RUN` sees declared args as environment variables; an `ENV` of the same name wins. Args are not kept ' +
      'in the image config but show in its history and provenance, so never pass secrets this way.',
    syntax: 'ARG <name>[=<default value>] [<name>[=<default value>]...]',
    example: 'ARG VERSION=1.0\nFROM alpine:3.20\nARG VERSION\nRUN echo "$VERSION" > /version',
    link: `${REFERENCE}#arg`,
  }),
  forms: [
    form('ARG <name>[=<default value>] [<name>[=<default value>]...]', 'Declare one or more build args.', [
      p('<name>', 'Name of the argument.'),
      p('[=<default value>]', 'Value used when the build does not set one.'),
      p('[<name>[=<default value>]...]', 'More arguments.'),
    ]),
  ],
  flags: [],
  snippet: '${1:name}',
  expands: true,
  onbuild: true,
  heredoc: false,
  link: `${REFERENCE}#arg`,
};

const ONBUILD: InstructionSpec = {
  name: 'ONBUILD',
  summary: 'Register an instruction to run when the image is used as a base.',
  doc: doc({
    what:
      'Stores a trigger in the image instead of running it. When another build uses the image in `FROM`, ' +
      'the triggers run first, in order, as if written right after that `FROM`; a failing trigger fails the ' +
      'build. Triggers are not passed on to grandchildren. `ONBUILD ONBUILD`, `ONBUILD FROM` and ' +
      '`ONBUILD MAINTAINER` are not allowed. Since Dockerfile 1.11 triggers may copy or mount from stages ' +
      'and contexts of the downstream build. The trigger\'s variables are expanded when it runs.',
    syntax: 'ONBUILD <INSTRUCTION>',
    example: 'ONBUILD COPY . /app/src\nONBUILD RUN /usr/local/bin/build --dir /app/src',
    link: `${REFERENCE}#onbuild`,
  }),
  forms: [
    form('ONBUILD <INSTRUCTION>', 'Defer an instruction to downstream builds.', [
      p('<INSTRUCTION>', 'Any instruction with its arguments, except `ONBUILD`, `FROM` and `MAINTAINER`.'),
    ]),
  ],
  flags: [],
  snippet: '${1:INSTRUCTION}',
  expands: false,
  onbuild: false,
  heredoc: false,
  link: `${REFERENCE}#onbuild`,
};

const STOPSIGNAL: InstructionSpec = {
  name: 'STOPSIGNAL',
  summary: 'Signal that docker stop sends to the container.',
  doc: doc({
    what:
      'Sets the signal sent to the container\'s main process to stop it (`docker stop`, and the daemon when ' +
      'stopping containers): a name such as `SIGTERM` or `SIGQUIT` (the `SIG` prefix is optional), ' +
      '`SIGRTMIN+n`/`SIGRTMAX-n`, or a signal number. The default is `SIGTERM`. It does not change what ' +
      'Ctrl+C sends. `docker run --stop-signal` overrides it. Not supported for Windows containers.',
    syntax: 'STOPSIGNAL <signal>',
    example: 'STOPSIGNAL SIGQUIT',
    link: `${REFERENCE}#stopsignal`,
  }),
  forms: [form('STOPSIGNAL <signal>', 'Set the stop signal.', [p('<signal>', 'Signal name (`SIGTERM`, `SIGINT`, …) or number (`9`).')])],
  flags: [],
  snippet: '${1:SIGTERM}',
  expands: true,
  onbuild: true,
  heredoc: false,
  link: `${REFERENCE}#stopsignal`,
};

function durationFlag(name: string, summary: string, what: string, dflt: string, example: string): FlagSpec {
  return {
    name,
    summary,
    doc: doc({
      what: `${what} A Go duration such as \`10s\`, \`1m30s\` or \`500ms\`; default \`${dflt}\`.`,
      syntax: `--${name}=<duration>`,
      example,
      link: `${REFERENCE}#healthcheck`,
    }),
    value: 'duration',
  };
}

const HEALTHCHECK: InstructionSpec = {
  name: 'HEALTHCHECK',
  summary: 'Command the engine runs to check that the container still works.',
  doc: doc({
    what:
      'Tells the engine how to probe the container. The command runs inside it periodically; exit status 0 ' +
      'means healthy, 1 unhealthy (2 is reserved). The status starts as `starting` and becomes `unhealthy` ' +
      'after `--retries` consecutive failures; a check that outlasts `--timeout` fails and is killed. ' +
      'Output (first 4096 bytes) is kept in `docker inspect`. `HEALTHCHECK NONE` disables a check inherited ' +
      'from the base image. Only the last `HEALTHCHECK` counts; options go before `CMD`.',
    syntax: 'HEALTHCHECK [OPTIONS] CMD <command>\nHEALTHCHECK NONE',
    example: 'HEALTHCHECK --interval=5m --timeout=3s \\\n  CMD curl -f http://localhost/ || exit 1',
    link: `${REFERENCE}#healthcheck`,
  }),
  forms: [
    form('HEALTHCHECK [OPTIONS] CMD command', 'Check health by running a command in the container.', [
      p('[OPTIONS]', '`--interval`, `--timeout`, `--start-period`, `--start-interval`, `--retries`.'),
      p('CMD', 'Keyword introducing the check command.'),
      p('command', 'Shell command or JSON exec array; exit 0 = healthy, 1 = unhealthy.'),
    ]),
    form('HEALTHCHECK NONE', 'Disable any health check inherited from the base image.', [
      p('NONE', 'No health check; takes no options or arguments.'),
    ]),
  ],
  flags: [
    durationFlag(
      'interval',
      'Time between checks (default 30s).',
      'Time from the container\'s start to the first check, and between the end of one check and the next.',
      '30s',
      'HEALTHCHECK --interval=1m CMD /bin/healthcheck',
    ),
    durationFlag(
      'timeout',
      'Time after which a running check counts as failed (default 30s).',
      'A check that runs longer than this is killed and counts as a failure.',
      '30s',
      'HEALTHCHECK --timeout=5s CMD wget -qO- http://localhost:8080/health',
    ),
    durationFlag(
      'start-period',
      'Start-up grace period during which failures are not counted (default 0s).',
      'Start-up time during which failed checks do not count towards `--retries`; a success during it ends it.',
      '0s',
      'HEALTHCHECK --start-period=1m CMD pg_isready',
    ),
    durationFlag(
      'start-interval',
      'Time between checks during the start period (default 5s).',
      'Interval between checks while the start period lasts (needs Docker Engine 25.0 or later).',
      '5s',
      'HEALTHCHECK --start-period=2m --start-interval=2s CMD pg_isready',
    ),
    {
      name: 'retries',
      summary: 'Consecutive failures before the container is unhealthy (default 3).',
      doc: doc({
        what: 'Number of consecutive failed checks after which the container is marked `unhealthy`. A non-negative integer; default `3`.',
        syntax: '--retries=<n>',
        example: 'HEALTHCHECK --retries=5 CMD redis-cli ping',
        link: `${REFERENCE}#healthcheck`,
      }),
      value: 'integer',
    },
  ],
  snippet: '--interval=${1:30s} CMD ${2:command}',
  expands: false,
  onbuild: true,
  heredoc: false,
  link: `${REFERENCE}#healthcheck`,
};

const SHELL: InstructionSpec = {
  name: 'SHELL',
  summary: 'Shell used by the shell form of RUN, CMD and ENTRYPOINT.',
  doc: doc({
    what:
      'Replaces the shell that runs the shell form of later `RUN`, `CMD` and `ENTRYPOINT` instructions. It ' +
      'must be written as a JSON array. The defaults are `["/bin/sh", "-c"]` on Linux and ' +
      '`["cmd", "/S", "/C"]` on Windows. Each `SHELL` replaces the previous one.',
    syntax: 'SHELL ["<executable>", "<parameters>"]',
    example: 'SHELL ["/bin/bash", "-euo", "pipefail", "-c"]\nSHELL ["powershell", "-Command"]',
    link: `${REFERENCE}#shell`,
  }),
  forms: [
    form('SHELL ["<executable>", "<parameters>"]', 'Set the default shell (JSON form only).', [
      p('"<executable>"', 'Shell program, e.g. `/bin/bash` or `powershell`.'),
      p('"<parameters>"', 'Its arguments before the command, e.g. `"-c"` or `"-Command"`.'),
    ]),
  ],
  flags: [],
  snippet: '["${1:/bin/sh}", "${2:-c}"]',
  expands: false,
  onbuild: true,
  heredoc: false,
  link: `${REFERENCE}#shell`,
};

/** Every Dockerfile instruction, in alphabetical order. */
export const INSTRUCTIONS: readonly InstructionSpec[] = [
  ADD,
  ARG,
  CMD,
  COPY,
  ENTRYPOINT,
  ENV,
  EXPOSE,
  FROM,
  HEALTHCHECK,
  LABEL,
  MAINTAINER,
  ONBUILD,
  RUN,
  SHELL,
  STOPSIGNAL,
  USER,
  VOLUME,
  WORKDIR,
];

/** Instructions by upper-case name. */
export const INSTRUCTION_BY_NAME: ReadonlyMap<string, InstructionSpec> = new Map(INSTRUCTIONS.map((i) => [i.name, i]));

// ---------------------------------------------------------------------------------------------
// RUN --mount types

const BOOL = ['true', 'false'] as const;

const TARGET = (what: string) => ({ names: ['target', 'dst', 'destination'], doc: what });
const MODE = (dflt: string, of: string) => ({ names: ['mode'], doc: `File mode of the ${of}, in octal. Default \`${dflt}\`.` });
const UID = (of: string) => ({ names: ['uid'], doc: `User ID owning the ${of}. Default \`0\`.` });
const GID = (of: string) => ({ names: ['gid'], doc: `Group ID owning the ${of}. Default \`0\`.` });

/**
 * The `type=` values of `RUN --mount` and the options each accepts. `type=bind` is the default.
 * Besides the documented options, BuildKit's parser accepts `ro`/`rw` on every type; they are
 * listed here only where they change something.
 */
export const MOUNT_TYPES: readonly MountTypeSpec[] = [
  {
    type: 'bind',
    doc: doc({
      what:
        'Binds a directory or file of the build context, a stage, a named context or an image into the step, ' +
        'read-only by default. Writes allowed with `rw` are thrown away after the step. The default type.',
      syntax: '--mount=type=bind,target=<path>[,source=<path>][,from=<stage|context|image>][,rw]',
      example: 'RUN --mount=type=bind,target=/src,from=build make -C /src test',
      link: `${REFERENCE}#run---mounttypebind`,
    }),
    options: [
      TARGET('Mount point in the container (required).'),
      { names: ['source', 'src'], doc: 'Path inside `from` to mount. Defaults to its root.' },
      { names: ['from'], doc: 'Stage, named context or image to mount from. Defaults to the build context. No variables.' },
      { names: ['rw', 'readwrite'], doc: 'Allow writes; they are discarded when the step ends.', values: BOOL, bare: true },
      { names: ['readonly', 'ro'], doc: 'Read-only (already the default for bind mounts).', values: BOOL, bare: true },
    ],
  },
  {
    type: 'cache',
    doc: doc({
      what:
        'Mounts a persistent cache directory for compilers and package managers. Its content survives between ' +
        'builds without affecting the step\'s cache key, but may be emptied at any time (garbage collection), ' +
        'so the build must work with any content.',
      syntax: '--mount=type=cache,target=<path>[,id=<id>][,sharing=shared|private|locked][,from=…][,source=…][,mode=…][,uid=…][,gid=…][,ro]',
      example: 'RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \\\n    apt-get update && apt-get install -y gcc',
      link: `${REFERENCE}#run---mounttypecache`,
    }),
    options: [
      { names: ['id'], doc: 'Identifies the cache, to share one between steps or keep them apart. Defaults to `target`.' },
      TARGET('Mount point in the container (required).'),
      { names: ['readonly', 'ro'], doc: 'Mount the cache read-only.', values: BOOL, bare: true },
      {
        names: ['sharing'],
        doc:
          'Concurrent use by several builds: `shared` (default, all write together), `private` (a new cache ' +
          'for each concurrent writer) or `locked` (wait until the other writer is done).',
        values: ['shared', 'private', 'locked'],
      },
      { names: ['from'], doc: 'Stage, named context or image providing the initial content. Defaults to an empty directory.' },
      { names: ['source', 'src'], doc: 'Path inside `from` to use as the initial content. Defaults to its root.' },
      MODE('0755', 'new cache directory'),
      UID('new cache directory'),
      GID('new cache directory'),
    ],
  },
  {
    type: 'tmpfs',
    doc: doc({
      what: 'Mounts an empty in-memory filesystem for the duration of the step.',
      syntax: '--mount=type=tmpfs,target=<path>[,size=<bytes>]',
      example: 'RUN --mount=type=tmpfs,target=/tmp,size=512m ./run-tests',
      link: `${REFERENCE}#run---mounttypetmpfs`,
    }),
    options: [
      TARGET('Mount point in the container (required).'),
      { names: ['size'], doc: 'Upper limit of the filesystem size, in bytes or with a unit (`64m`, `1g`).' },
    ],
  },
  {
    type: 'secret',
    doc: doc({
      what:
        'Gives the step a secret passed with `docker build --secret id=<id>,…`, as a file (by default ' +
        '`/run/secrets/<id>`) or as an environment variable, without it entering any layer or the cache.',
      syntax: '--mount=type=secret,id=<id>[,target=<path>][,env=<VAR>][,required][,mode=…][,uid=…][,gid=…]',
      example: 'RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci\nRUN --mount=type=secret,id=API_KEY,env=API_KEY ./deploy',
      link: `${REFERENCE}#run---mounttypesecret`,
    }),
    options: [
      { names: ['id'], doc: 'Name of the secret given to the build. Defaults to the base name of `target`.' },
      TARGET('Where to mount the secret file. Defaults to `/run/secrets/<id>` when neither it nor `env` is set.'),
      { names: ['env'], doc: 'Expose the secret as this environment variable instead of (or, with `target`, as well as) a file. Since Dockerfile 1.10.' },
      { names: ['required'], doc: 'Fail the step when the secret was not provided. Default `false`.', values: BOOL, bare: true },
      MODE('0400', 'secret file'),
      UID('secret file'),
      GID('secret file'),
      { names: ['source', 'src'], doc: 'Older spelling of `id`, still accepted; cannot be combined with `id`.' },
    ],
  },
  {
    type: 'ssh',
    doc: doc({
      what:
        'Forwards an SSH agent socket (or keys) passed with `docker build --ssh` into the step, so it can use ' +
        'keys, passphrase-protected ones included, without copying them into the image.',
      syntax: '--mount=type=ssh[,id=<id>][,target=<path>][,required][,mode=…][,uid=…][,gid=…]',
      example: 'RUN --mount=type=ssh git clone git@github.com:example/private.git',
      link: `${REFERENCE}#run---mounttypessh`,
    }),
    options: [
      { names: ['id'], doc: 'Which `--ssh` entry of the build to use. Default `default`.' },
      TARGET('Path of the agent socket. Defaults to `/run/buildkit/ssh_agent.<n>` (and `SSH_AUTH_SOCK` points to it).'),
      { names: ['required'], doc: 'Fail the step when the agent or key was not provided. Default `false`.', values: BOOL, bare: true },
      MODE('0600', 'socket'),
      UID('socket'),
      GID('socket'),
    ],
  },
];

// ---------------------------------------------------------------------------------------------
// Parser directives

/** BuildKit's build checks, as `# check=skip=<name>` and `BUILDKIT_DOCKERFILE_CHECK` name them. */
export const BUILD_CHECKS: readonly string[] = [
  'ConsistentInstructionCasing',
  'CopyIgnoredFile',
  'DuplicateStageName',
  'ExposeInvalidFormat',
  'ExposeProtoCasing',
  'FromAsCasing',
  'FromPlatformFlagConstDisallowed',
  'InvalidBaseImagePlatform',
  'InvalidDefaultArgInFrom',
  'InvalidDefinitionDescription',
  'JSONArgsRecommended',
  'LegacyKeyValueFormat',
  'MaintainerDeprecated',
  'MultipleInstructionsDisallowed',
  'NoEmptyContinuation',
  'RedundantTargetPlatform',
  'ReservedStageName',
  'SecretsUsedInArgOrEnv',
  'StageNameCasing',
  'UndefinedArgInFrom',
  'UndefinedVar',
  'WorkdirRelativePath',
];

/** The parser directives, `# name=value` lines before anything else in the file. */
export const DIRECTIVES: readonly DirectiveSpec[] = [
  {
    name: 'syntax',
    summary: 'Dockerfile frontend (syntax version) that builds this file.',
    doc: doc({
      what:
        'Names the frontend image BuildKit uses to build this Dockerfile, so a build gets newer syntax without ' +
        'upgrading the daemon. `docker/dockerfile:1` follows the latest stable 1.x release; `:1-labs` adds ' +
        'the experimental features; a full version (`:1.20`) pins one. Without it the frontend bundled with ' +
        'BuildKit is used.',
      syntax: '# syntax=<frontend image>',
      example: '# syntax=docker/dockerfile:1\nFROM alpine',
      link: `${REFERENCE}#syntax`,
    }),
    values: [
      'docker/dockerfile:1',
      'docker/dockerfile:1-labs',
      'docker.io/docker/dockerfile:1',
      'docker/dockerfile-upstream:master',
      'docker/dockerfile-upstream:master-labs',
    ],
    link: `${REFERENCE}#syntax`,
  },
  {
    name: 'escape',
    summary: 'Escape and line-continuation character: \\ (default) or `.',
    doc: doc({
      what:
        'Chooses the character that escapes characters and continues a line: `\\` (the default) or a ' +
        'backtick, which suits Windows paths such as `c:\\`. In `RUN` commands it only matters at the end of ' +
        'a line.',
      syntax: '# escape=\\\n# escape=`',
      example: '# escape=`\nFROM mcr.microsoft.com/windows/nanoserver\nCOPY app.ps1 c:\\app\\',
      link: `${REFERENCE}#escape`,
    }),
    values: ['\\', '`'],
    link: `${REFERENCE}#escape`,
  },
  {
    name: 'check',
    summary: 'Configure build checks: which to skip, and whether failures are errors.',
    doc: doc({
      what:
        'Controls the build checks (since Dockerfile 1.8). `skip=` takes check names separated by commas, or ' +
        '`all`; `error=true` makes a violation fail the build (pin the `syntax` then, as new checks appear in ' +
        'new versions). Combine the two with a semicolon. Check names are case-sensitive. The ' +
        '`BUILDKIT_DOCKERFILE_CHECK` build arg takes the same value.',
      syntax: '# check=skip=<name>[,<name>...]|all\n# check=error=<boolean>\n# check=skip=<names>;error=<boolean>',
      example: '# check=skip=JSONArgsRecommended,StageNameCasing;error=true',
      link: `${REFERENCE}#check`,
    }),
    values: [
      'skip=all',
      'error=true',
      'error=false',
      'skip=JSONArgsRecommended,StageNameCasing',
      'skip=JSONArgsRecommended;error=true',
      ...BUILD_CHECKS.map((c) => `skip=${c}`),
    ],
    link: `${REFERENCE}#check`,
  },
];

// ---------------------------------------------------------------------------------------------
// STOPSIGNAL

/**
 * Signal names STOPSIGNAL accepts (Linux, as moby's signal.ParseSignal knows them). The `SIG`
 * prefix is optional and case does not matter. Real-time signals are written `SIGRTMIN`,
 * `SIGRTMIN+1` … `SIGRTMIN+15`, `SIGRTMAX-14` … `SIGRTMAX-1` and `SIGRTMAX`; a plain unsigned
 * number (`9`) is also valid.
 */
export const SIGNALS: readonly string[] = [
  'SIGTERM',
  'SIGKILL',
  'SIGINT',
  'SIGQUIT',
  'SIGHUP',
  'SIGUSR1',
  'SIGUSR2',
  'SIGWINCH',
  'SIGABRT',
  'SIGALRM',
  'SIGBUS',
  'SIGCHLD',
  'SIGCLD',
  'SIGCONT',
  'SIGFPE',
  'SIGILL',
  'SIGIO',
  'SIGIOT',
  'SIGPIPE',
  'SIGPOLL',
  'SIGPROF',
  'SIGPWR',
  'SIGSEGV',
  'SIGSTKFLT',
  'SIGSTOP',
  'SIGSYS',
  'SIGTRAP',
  'SIGTSTP',
  'SIGTTIN',
  'SIGTTOU',
  'SIGURG',
  'SIGVTALRM',
  'SIGXCPU',
  'SIGXFSZ',
  'SIGRTMIN',
  'SIGRTMAX',
];

// ---------------------------------------------------------------------------------------------
// Predefined build args

function arg(name: string, what: string, global: boolean, example?: string): { name: string; doc: string; global: boolean } {
  const parts = [`\`${name}\`: ${what}`];
  if (example) parts.push(code(example));
  return { name, doc: parts.join('\n\n'), global };
}

function platformArg(name: string, what: string, example: string): { name: string; doc: string; global: boolean } {
  return arg(
    name,
    `${what} Set automatically in the global scope, so \`FROM\` lines can use it as is; inside a stage, ` +
      `declare \`ARG ${name}\` (without a value) first.`,
    true,
    example,
  );
}

function proxyArg(name: string): { name: string; doc: string; global: boolean } {
  return arg(
    name,
    'Proxy setting, predefined without an `ARG` line for `RUN` steps. Set it with `--build-arg`; it is left ' +
      'out of `docker history` and the cache key unless the Dockerfile declares it with `ARG`. Not usable in ' +
      '`FROM` lines without a global `ARG`.',
    false,
  );
}

/**
 * The build args BuildKit defines without an ARG line. `global` is true for those usable in
 * FROM lines without a declaration (the automatic platform args).
 */
export const PREDEFINED_ARGS: readonly { name: string; doc: string; global: boolean }[] = [
  platformArg('TARGETPLATFORM', 'Platform of the build result, e.g. `linux/amd64`, `linux/arm/v7`.', 'FROM alpine\nARG TARGETPLATFORM\nRUN echo "building for $TARGETPLATFORM"'),
  platformArg('TARGETOS', 'OS part of `TARGETPLATFORM`, e.g. `linux`.', 'ARG TARGETOS TARGETARCH\nRUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build ./...'),
  platformArg('TARGETARCH', 'Architecture part of `TARGETPLATFORM`, e.g. `amd64`, `arm64`.', 'ARG TARGETARCH\nRUN curl -fsSLO https://example.com/tool-$TARGETARCH'),
  platformArg('TARGETVARIANT', 'Variant part of `TARGETPLATFORM`, e.g. `v7`; often empty.', 'ARG TARGETVARIANT'),
  platformArg('BUILDPLATFORM', 'Platform of the node running the build.', 'FROM --platform=$BUILDPLATFORM golang:1.22 AS build'),
  platformArg('BUILDOS', 'OS part of `BUILDPLATFORM`.', 'ARG BUILDOS'),
  platformArg('BUILDARCH', 'Architecture part of `BUILDPLATFORM`.', 'ARG BUILDARCH'),
  platformArg('BUILDVARIANT', 'Variant part of `BUILDPLATFORM`.', 'ARG BUILDVARIANT'),
  arg(
    'TARGETSTAGE',
    'Name of the stage being built (the `--target`, or the last stage; `default` when it has no name). ' +
      'Set by the frontend like the platform args (added in late 2024) but not yet listed in the reference. ' +
      'Declare `ARG TARGETSTAGE` to use it inside a stage.',
    true,
    'ARG TARGETSTAGE\nRUN echo "final stage: $TARGETSTAGE"',
  ),
  proxyArg('HTTP_PROXY'),
  proxyArg('http_proxy'),
  proxyArg('HTTPS_PROXY'),
  proxyArg('https_proxy'),
  proxyArg('FTP_PROXY'),
  proxyArg('ftp_proxy'),
  proxyArg('NO_PROXY'),
  proxyArg('no_proxy'),
  proxyArg('ALL_PROXY'),
  proxyArg('all_proxy'),
  arg(
    'SOURCE_DATE_EPOCH',
    'Unix timestamp used for the created time of the image and its layers, for reproducible builds ' +
      '(Dockerfile 1.5, BuildKit 0.11).',
    false,
    'docker build --build-arg SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) .',
  ),
  arg('BUILDKIT_BUILD_NAME', 'Overrides the build name shown in `docker buildx history` and Docker Desktop\'s Builds view.', false),
  arg('BUILDKIT_CACHE_MOUNT_NS', 'Namespace prefixed to the IDs of cache mounts, to keep builds\' caches apart.', false),
  arg(
    'BUILDKIT_CONTEXT_KEEP_GIT_DIR',
    'Boolean: keep the `.git` directory when the build context is a Git repository.',
    false,
    'docker build --build-arg BUILDKIT_CONTEXT_KEEP_GIT_DIR=1 https://github.com/user/repo.git#main',
  ),
  arg('BUILDKIT_GIT_ADVICE', 'Boolean: show Git\'s advice messages from Git operations BuildKit runs. Default false.', false),
  arg('BUILDKIT_INLINE_CACHE', 'Boolean: write cache metadata into the image config so the image can serve as `--cache-from`.', false),
  arg('BUILDKIT_MULTI_PLATFORM', 'Boolean: produce the same multi-platform output (an index) even for a single platform.', false),
  arg('BUILDKIT_SANDBOX_HOSTNAME', 'Hostname of the build containers (default `buildkitsandbox`).', false),
  arg(
    'BUILDKIT_SYNTAX',
    'Frontend image to use, like the `# syntax=` directive; `dockerfile.v0` ignores the directive and uses the built-in frontend.',
    false,
  ),
  arg(
    'BUILDKIT_DOCKERFILE_CHECK',
    'Build-check configuration, same value as the `# check=` directive, e.g. `skip=all` or `error=true`.',
    false,
    'docker build --build-arg BUILDKIT_DOCKERFILE_CHECK=skip=JSONArgsRecommended .',
  ),
];
