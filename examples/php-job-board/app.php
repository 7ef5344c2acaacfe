<?php
// The job board's shared part: settings, the SQLite database, the session, and the one call
// to rtio serve. Kept outside public/ so the web server never serves it (nor the data dir).
declare(strict_types=1);

/** A setting from the web server (Apache SetEnv, nginx fastcgi_param) or the environment. */
function setting(string $name, string $default = ''): string
{
    $value = $_SERVER[$name] ?? getenv($name);
    return is_string($value) && $value !== '' ? $value : $default;
}

/** Where jobs.sqlite and the sessions live: writable by the web server's user (www-data). */
function data_dir(): string
{
    $dir = setting('JOB_BOARD_DATA', __DIR__ . '/data');
    if (!is_dir($dir)) {
        mkdir($dir, 0700, true);
    }
    return $dir;
}

/**
 * Starts the session, with its files in the data dir: auth.php must read the very session
 * the browser's pages wrote, whichever PHP (mod_php or php-fpm) serves them.
 */
function start_session(?string $id = null, bool $readOnly = false): void
{
    $dir = data_dir() . '/sessions';
    if (!is_dir($dir)) {
        mkdir($dir, 0700, true);
    }
    session_save_path($dir);
    if ($id !== null) {
        session_id($id);
    }
    session_start([
        'cookie_httponly' => true,
        'cookie_samesite' => 'Lax',
        'use_strict_mode' => true, // never adopt an id the browser made up
        'read_and_close' => $readOnly,
        // Debian turns PHP's session GC off and cleans only its own save path from cron
        'gc_probability' => 1,
        'gc_divisor' => 1000,
    ]);
}

function db(): PDO
{
    static $pdo = null;
    if ($pdo === null) {
        $pdo = new PDO('sqlite:' . data_dir() . '/jobs.sqlite', null, null, [
            PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
            PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
        ]);
        $pdo->exec('PRAGMA busy_timeout = 3000');
        $pdo->exec('CREATE TABLE IF NOT EXISTS jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            title TEXT NOT NULL,
            company TEXT NOT NULL,
            posted_by TEXT NOT NULL,
            created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)');
    }
    return $pdo;
}

/** 1 to $max characters of valid UTF-8 (no mbstring needed: PCRE's /u counts characters). */
function fits(string $text, int $max): bool
{
    return preg_match('/^.{1,' . $max . '}$/su', $text) === 1;
}

function h(string $text): string
{
    return htmlspecialchars($text, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
}

/**
 * Tells every open page through rtio serve's HTTP API (POST /api/emit). RTIO_API_URL is rtio's
 * internal API address (--api-listen), never the public one. Returns whether rtio took it: the
 * job is saved either way, a page that missed it shows it on its next load.
 */
function rtio_emit(string $event, array $args, array $rooms = []): bool
{
    $body = ['event' => $event, 'args' => $args];
    if ($rooms) {
        $body['to'] = $rooms;
    }
    $curl = curl_init(rtrim(setting('RTIO_API_URL', 'http://127.0.0.1:3001'), '/') . '/api/emit');
    curl_setopt_array($curl, [
        CURLOPT_POST => true,
        CURLOPT_POSTFIELDS => json_encode($body, JSON_THROW_ON_ERROR),
        CURLOPT_HTTPHEADER => [
            'Content-Type: application/json',
            'Authorization: Bearer ' . setting('RTIO_API_KEY'),
        ],
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_CONNECTTIMEOUT => 2, // a stopped rtio must not hang the form
        CURLOPT_TIMEOUT => 5,
    ]);
    $answer = curl_exec($curl);
    $status = curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
    if ($status !== 200) {
        error_log("job board: POST /api/emit: $status " . ($answer === false ? curl_error($curl) : $answer));
    }
    curl_close($curl);
    return $status === 200;
}
