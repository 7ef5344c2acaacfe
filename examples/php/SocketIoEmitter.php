<?php
declare(strict_types=1);

/**
 * Pushes events into a Socket.IO cluster through Redis, in the format of
 * `@socket.io/redis-emitter` 5.x: rtio nodes (any host) and Node socket.io nodes with
 * `@socket.io/redis-adapter` (classic, the default) deliver them to their clients.
 * Needs the phpredis and msgpack extensions (Debian: `apt install php-redis php-msgpack`;
 * PECL: `pecl install redis msgpack`).
 *
 *     $io = new SocketIoEmitter(new Redis(['host' => '127.0.0.1', 'port' => 6379]));
 *     $io->emit('server:created:job', ['id' => 42, 'title' => 'Welder']);
 *     $io->to('jobs')->except('banned')->emit('job', $job);
 *     $io->of('/admin')->socketsJoin('audit');
 *
 * Every call publishes at once; nothing is kept between calls. Objects are immutable: `to`,
 * `except` and `of` return new emitters. Arguments are sent as msgpack: PHP lists arrive as
 * arrays, associative arrays as objects (an empty PHP array arrives as `[]`: send
 * `new ArrayObject()` or a non-empty array where the client expects `{}`).
 */
final class SocketIoEmitter
{
    /** The uid Node's emitter writes: nodes never take the message for one of their own. */
    private const UID = 'emitter';
    private const EVENT = 2;
    private const REMOTE_JOIN = 2;
    private const REMOTE_LEAVE = 3;
    private const REMOTE_DISCONNECT = 4;
    private const SERVER_SIDE_EMIT = 6;

    /**
     * @param Redis    $redis  a connected phpredis client
     * @param string   $key    the cluster's key prefix (`key` of the adapter), `socket.io` by default
     * @param string   $nsp    the namespace
     * @param string[] $rooms  target rooms (none: every socket of the namespace)
     * @param string[] $except excluded rooms or socket ids
     */
    public function __construct(
        private Redis $redis,
        private string $key = 'socket.io',
        private string $nsp = '/',
        private array $rooms = [],
        private array $except = [],
    ) {
    }

    /** The same cluster, another namespace. */
    public function of(string $nsp): self
    {
        return new self($this->redis, $this->key, str_starts_with($nsp, '/') ? $nsp : "/$nsp");
    }

    /** Only the sockets in these rooms (added to those already chosen). */
    public function to(string ...$rooms): self
    {
        return new self($this->redis, $this->key, $this->nsp, [...$this->rooms, ...$rooms], $this->except);
    }

    /** Not the sockets in these rooms (or with these ids). */
    public function except(string ...$rooms): self
    {
        return new self($this->redis, $this->key, $this->nsp, $this->rooms, [...$this->except, ...$rooms]);
    }

    /** Emits `$event` with `$args` to the chosen sockets on every node. */
    public function emit(string $event, mixed ...$args): void
    {
        $packet = ['type' => self::EVENT, 'data' => [$event, ...$args], 'nsp' => $this->nsp];
        $opts = ['rooms' => $this->rooms, 'except' => $this->except];
        // A broadcast to exactly one room goes to that room's channel (nodes without it skip it).
        $channel = "{$this->key}#{$this->nsp}#" . (count($this->rooms) === 1 ? "{$this->rooms[0]}#" : '');
        $this->redis->publish($channel, msgpack_pack([self::UID, $packet, $opts]));
    }

    /** Makes the chosen sockets join `$rooms` (socketsJoin). */
    public function socketsJoin(string ...$rooms): void
    {
        $this->request(['type' => self::REMOTE_JOIN, 'opts' => $this->opts(), 'rooms' => $rooms]);
    }

    /** Makes the chosen sockets leave `$rooms` (socketsLeave). */
    public function socketsLeave(string ...$rooms): void
    {
        $this->request(['type' => self::REMOTE_LEAVE, 'opts' => $this->opts(), 'rooms' => $rooms]);
    }

    /** Disconnects the chosen sockets; with `$close`, their whole connections too. */
    public function disconnectSockets(bool $close = false): void
    {
        $this->request(['type' => self::REMOTE_DISCONNECT, 'opts' => $this->opts(), 'close' => $close]);
    }

    /** Sends `$event` to the servers' own listeners (serverSideEmit; no acks from an emitter). */
    public function serverSideEmit(string $event, mixed ...$args): void
    {
        $this->request(['uid' => self::UID, 'type' => self::SERVER_SIDE_EMIT, 'data' => [$event, ...$args]]);
    }

    private function opts(): array
    {
        return ['rooms' => $this->rooms, 'except' => $this->except];
    }

    private function request(array $request): void
    {
        $json = json_encode($request, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
        $this->redis->publish("{$this->key}-request#{$this->nsp}#", $json);
    }
}
