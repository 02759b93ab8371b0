//! Why a feed's sync failed ([`SyncError`]): typed, naming the feed's URL, file, folder or
//! entry, and written as the message a sync report gives for the feed.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Why one feed (or the mirror every feed is taken from) could not be synced.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SyncError {
    /// A file or folder operation (an `fs_err` error: its message names the path).
    #[error("{0}")]
    Fs(#[from] io::Error),
    /// Writing or reading `path` failed.
    #[error("{}", io_msg(path, source))]
    Path {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The sync's own files (state, HTTP validators).
    #[error(transparent)]
    File(#[from] SyncFileError),
    /// A `file://` URL that names no path on this machine.
    #[error(transparent)]
    FileUrl(#[from] FileUrlError),
    /// A feed's `folder` that is not a relative path inside the data directory.
    #[error("folder `{folder}` is not a relative path inside the data directory")]
    Folder {
        /// The feed's `folder`.
        folder: String,
    },
    /// The feed folder is a symbolic link.
    #[error("{} is a symbolic link: nminus sync replaces feed folders and does not write through links; remove the link or sync into its target's data directory", .0.display())]
    FolderIsLink(PathBuf),
    /// A git feed's name that cannot name its repository's folder.
    #[error("feed name `{0}` cannot name a folder: use letters, digits, `-`, `_`, `.`")]
    FeedName(String),
    /// libgit2 failed on the feed's repository (`what` the step, `url` the upstream).
    #[error("{what} {url}: {}", source.message())]
    Git {
        /// The step (`no commit fetched from`, `bad git URL`).
        what: &'static str,
        /// The upstream URL.
        url: String,
        /// libgit2's error.
        source: git2::Error,
    },
    /// The bare repository could not be created.
    #[error("cannot create {}: {}", path.display(), source.message())]
    GitInit {
        /// The repository's folder.
        path: PathBuf,
        /// libgit2's error.
        source: git2::Error,
    },
    /// The git HTTP transport could not be set up.
    #[error(transparent)]
    GitHttp(#[from] crate::sources::githttp::GitHttpError),
    /// The fetch of `src` from `url` failed.
    #[error("git fetch of {src} from {url}: {}", source.message())]
    Fetch {
        /// `HEAD` or `refs/heads/<branch>`.
        src: String,
        /// The upstream URL.
        url: String,
        /// libgit2's error.
        source: git2::Error,
    },
    /// The fetched pack is over the byte limit.
    #[error("git fetch of {src} from {url}: the pack is larger than the {max} bytes allowed")]
    PackTooLarge {
        /// `HEAD` or `refs/heads/<branch>`.
        src: String,
        /// The upstream URL.
        url: String,
        /// The limit.
        max: u64,
    },
    /// The feed's `subdir` is not in the fetched commit.
    #[error("subdir `{subdir}` not found in {url} at commit {commit}: check the feed's `subdir`")]
    SubdirMissing {
        /// The feed's `subdir`.
        subdir: String,
        /// The upstream URL.
        url: String,
        /// The commit.
        commit: git2::Oid,
    },
    /// The feed's `subdir` names a file of the fetched commit.
    #[error("subdir `{subdir}` of {url} at commit {commit} is not a folder")]
    SubdirNotFolder {
        /// The feed's `subdir`.
        subdir: String,
        /// The upstream URL.
        url: String,
        /// The commit.
        commit: git2::Oid,
    },
    /// A tree entry whose name cannot be a file name.
    #[error("a tree entry of {} has an unusable name", .0.display())]
    TreeEntryName(PathBuf),
    /// A tree object that could not be read.
    #[error("{}: {}", path.display(), source.message())]
    TreeObject {
        /// Where it was to be written.
        path: PathBuf,
        /// libgit2's error.
        source: git2::Error,
    },
    /// The tree has more entries than [`ExtractLimits::max_entries`].
    #[error("the tree has more than {0} entries")]
    TreeEntries(u64),
    /// The tree holds more bytes than [`ExtractLimits::max_bytes`].
    #[error("the tree holds more than {0} bytes")]
    TreeBytes(u64),
    /// An archive feed's `file` that is not a plain file name.
    #[error("upstream `file: {0}` must be a plain file name")]
    UpstreamFile(String),
    /// An archive URL of another scheme.
    #[error("archive URL `{0}`: expected http://, https:// or file://")]
    ArchiveScheme(String),
    /// The HTTP client could not be built.
    #[error("{}", error_chain(.0))]
    HttpClient(reqwest::Error),
    /// The request failed.
    #[error("GET {url}: {}", error_chain(source))]
    Get {
        /// The URL.
        url: String,
        /// The client's error.
        source: reqwest::Error,
    },
    /// The server answered with an error status.
    #[error("GET {url}: HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: reqwest::StatusCode,
    },
    /// The announced length is over the limit.
    #[error("GET {url}: {len} bytes, more than the {max} allowed")]
    Length {
        /// The URL.
        url: String,
        /// `Content-Length`.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// Reading the download failed.
    #[error("reading {what}: {}", error_chain(source))]
    Download {
        /// The URL.
        what: String,
        /// The I/O error.
        source: io::Error,
    },
    /// The download is over the limit.
    #[error("{what}: more than the {max} bytes allowed")]
    DownloadTooLarge {
        /// The URL.
        what: String,
        /// The limit.
        max: u64,
    },
    /// The download is not what the feed definition pins.
    #[error("{url}: sha256 is {got}, the feed definition pins {want}: refused")]
    Sha256 {
        /// The URL.
        url: String,
        /// The download's digest.
        got: String,
        /// The pinned one.
        want: String,
    },
    /// An archive feed without `file` whose download is not gzip.
    #[error("{0} is not a .tar.gz archive: give `file: NAME` in the feed's upstream to store a single document")]
    NotTarGz(String),
    /// The archive was refused.
    #[error("archive {url} refused: {source}")]
    Archive {
        /// The URL.
        url: String,
        /// Why.
        source: ArchiveError,
    },
    /// Nothing of the archive is under the feed's `subdir`.
    #[error("archive {url} has nothing under subdir `{subdir}`")]
    EmptySubdir {
        /// The URL.
        url: String,
        /// The feed's `subdir`.
        subdir: String,
    },
    /// `--from` names nothing.
    #[error("--from {0}: no such file or directory")]
    FromMissing(String),
    /// `--from` could not be read.
    #[error("--from {label}: {source}")]
    FromUnreadable {
        /// The `--from` argument.
        label: String,
        /// The I/O error.
        source: io::Error,
    },
    /// The mirror does not hold the feed's folder.
    #[error("{label} has no folder `{folder}`")]
    NotInMirror {
        /// The `--from` argument.
        label: String,
        /// The feed's `folder`.
        folder: String,
    },
    /// `--from` is the data directory.
    #[error("--from {0} is the data directory itself: give a mirror directory or a bundle")]
    FromIsData(String),
    /// The bundle was refused.
    #[error("bundle {label} refused: {source}; nothing was written")]
    Bundle {
        /// The `--from` argument.
        label: String,
        /// Why.
        source: ArchiveError,
    },
    /// A mirror's symbolic link that leads out of the feed folder.
    #[error("{}: symbolic link pointing outside the mirror folder ({}): refused", path.display(), target.display())]
    LinkOutside {
        /// The link.
        path: PathBuf,
        /// Where it resolves.
        target: PathBuf,
    },
    /// Folders nested deeper than the walk goes.
    #[error("{}: folders nested deeper than 32 levels (a symbolic link loop?)", .0.display())]
    TooDeep(PathBuf),
    /// A mirror folder over [`ExtractLimits`].
    #[error("{}: more than {} bytes or {} files", root.display(), limits.max_bytes, limits.max_entries)]
    MirrorTooLarge {
        /// The feed folder of the mirror.
        root: PathBuf,
        /// The limits.
        limits: ExtractLimits,
    },
    /// A device, FIFO or socket in a mirror.
    #[error("{}: neither a file nor a folder (a device, FIFO or socket): refused", .0.display())]
    NotAFile(PathBuf),
    /// The bundle's state could not be serialised.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

/// A `file://` URL that names no path on this machine.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FileUrlError {
    /// Not `file://`.
    #[error("`{0}` is not a file:// URL")]
    NotFile(String),
    /// A host other than `localhost`, or a relative path.
    #[error("`{0}`: expected file:///absolute/path (a file:// URL names a path on this machine)")]
    NotAbsolute(String),
    /// `%XX` escapes that decode to something that is not UTF-8.
    #[error("`{0}`: not UTF-8 once decoded")]
    NotUtf8(String),
}

/// Why a path of an archive (or a feed's folder) may not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UnsafePath {
    /// A `..` component.
    #[error("path has a `..` component")]
    ParentDir,
    /// An absolute path.
    #[error("absolute path")]
    Absolute,
    /// A symbolic link climbing out of the archive.
    #[error("symbolic link to `{}` points outside the archive", .0.display())]
    LinkOutside(PathBuf),
    /// A symbolic link to an absolute path.
    #[error("symbolic link to absolute path `{}` points outside the archive", .0.display())]
    LinkAbsolute(PathBuf),
}
