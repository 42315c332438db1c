(ns sente-lite.client
  "sente-lite client for Scittle: a Sente-compatible WebSocket client for the
  browser, interpreted by SCI.

  SCI does not reliably support destructuring, so nothing here destructures:
  vectors are taken apart with first/second/nth and maps with get.

  A client is an atom holding the connection's state; every function takes it.

    (def c (make-client! {:url \"ws://127.0.0.1:1340/chsk\"
                          :on-open (fn [uid] ...)
                          :on-message (fn [event-id data] ...)}))
    (send! c [:my-app/hello {:n 1}])
    (send! c [:my-app/ask {:q 1}] {:timeout-ms 5000 :callback (fn [reply] ...)})
    (on! c {:event-id :my-app/news :callback (fn [msg] ...)})   ; msg is {:event-id :data}
    (take! c {:event-id :my-app/answer :timeout-ms 5000 :callback (fn [msg] ...)})
    (subscribe! c \"room\") (publish! c \"room\" {:text \"hi\"})
    (close! c)

  Wire: EDN text frames, one event [:ns/id data] (or a batch [[ev1] [ev2]], or a
  reply [data \"cb-id\"]) per frame, as sente-lite's published Scittle client
  speaks it."
  (:require [clojure.edn :as edn]))

(def default-opts
  {:reconnect? true          ; reconnect after a drop (never after close!)
   :backoff-base-ms 250      ; first retry after 125-250 ms, doubling per failed attempt
   :backoff-max-ms 10000     ; cap on the retry delay (before jitter)
   :ping-interval-ms 25000   ; send [:chsk/ws-ping] after this long without a frame; 0 disables
   :pong-timeout-ms 10000    ; drop the socket when a ping is unanswered this long
   :callback-timeout-ms 5000 ; default :timeout-ms of send! with a :callback
   :max-message-bytes 1048576
   :warn-message-bytes 524288
   :resubscribe? false})     ; re-send subscribe! for every channel after a reconnect

;; ---------------------------------------------------------------- helpers

(defn- now-ms [] (.now js/Date))

(defn- warn
  "Logs what, with x printed as EDN (cut to 200 characters)."
  [what x]
  (let [shown (if (string? x) x (pr-str x))]
    (.warn js/console (str "sente-lite: " what ": "
                           (if (> (count shown) 200) (str (subs shown 0 200) "...") shown)))))

(defn- safe-call
  "Calls f with x; an exception in user code is logged, not propagated, so one
  bad callback cannot break the socket's message loop."
  [f x]
  (when f
    (try
      (f x)
      (catch :default e
        (.error js/console "sente-lite: callback threw" e)))))

(defn- safe-call2 [f x y]
  (when f
    (try
      (f x y)
      (catch :default e
        (.error js/console "sente-lite: callback threw" e)))))

(defn- next-seq! [client]
  (get (swap! client update :seq inc) :seq))

(defn- opt [client k]
  (get (get @client :opts) k))

(def ^:private encoder (js/TextEncoder.))

(defn- byte-length
  "UTF-8 length of s. UTF-8 needs at most 3 bytes per UTF-16 unit, so text that
  cannot reach limit is not encoded just to be measured."
  [s limit]
  (let [n (.-length s)]
    (if (<= (* 3 n) limit)
      n
      (.-length (.encode encoder s)))))

(defn- system-event? [ev-id]
  (and (keyword? ev-id) (= "chsk" (namespace ev-id))))

(defn- check-event! [ev]
  (when-not (and (vector? ev)
                 (<= 1 (count ev) 2)
                 (keyword? (first ev))
                 (some? (namespace (first ev))))
    (throw (ex-info (str "sente-lite: an event is [:ns/event-id] or [:ns/event-id data], got "
                         (pr-str ev))
                    {:event ev}))))

;; ---------------------------------------------------------------- handlers

(defn- remove-handler!
  "Removes handler id; returns the handler if it was registered."
  [client id]
  (let [h (get (get @client :handlers) id)]
    (when h
      (swap! client update :handlers dissoc id)
      (when-let [t (get h :timer)]
        (js/clearTimeout t))
      h)))

(defn on!
  "Registers a handler and returns its id (a string). opts:
    :event-id   the event to match, or :* for every application event (default :*;
                :chsk/* system events only reach handlers that name them)
    :pred       (fn [msg]) that must also be truthy
    :once?      remove the handler after its first match
    :timeout-ms remove the handler after this long and call back {:error :timeout}
    :callback   (fn [msg]) with msg {:event-id kw :data x}, or {:error ...}
  Once handlers are told {:error :closed} when the connection drops or closes
  (at once if the client is closed already). Register before sending the
  request whose answer it waits for."
  [client opts]
  (let [cb (get opts :callback)]
    (when-not (fn? cb)
      (throw (ex-info "sente-lite: on! needs a :callback function" {:opts opts})))
    (let [n (next-seq! client)
          id (str "h" n)
          ms (get opts :timeout-ms)
          timer (when (and ms (pos? ms))
                  (js/setTimeout
                   (fn []
                     (when (remove-handler! client id)
                       (safe-call cb {:error :timeout :handler-id id})))
                   ms))
          h {:id id
             :seq n
             :event-id (or (get opts :event-id) :*)
             :pred (get opts :pred)
             :once? (boolean (get opts :once?))
             :callback cb
             :timer timer}]
      (if (and (get h :once?) (get @client :closed?))
        ;; Nothing will ever match on a closed client.
        (do (when timer (js/clearTimeout timer))
            (js/setTimeout (fn [] (safe-call cb {:error :closed :reason :closed :handler-id id})) 0))
        (swap! client assoc-in [:handlers id] h))
      id)))

(defn take!
  "on! with :once? true: the callback gets the first matching event, or
  {:error :timeout} / {:error :closed}. Returns the handler id."
  [client opts]
  (on! client (assoc opts :once? true)))

(defn off!
  "Removes handlers: by id (what on! returned), by {:event-id kw}, or :all.
  Returns how many were removed. Removed handlers are not called back."
  [client what]
  (let [hs (vals (get @client :handlers))
        ids (cond
              (= what :all) (map (fn [h] (get h :id)) hs)
              (string? what) [what]
              (map? what) (map (fn [h] (get h :id))
                               (filter (fn [h] (= (get h :event-id) (get what :event-id))) hs))
              :else [])]
    (count (filter some? (doall (map (fn [id] (remove-handler! client id)) ids))))))

(defn handler-count [client]
  (count (get @client :handlers)))

(defn- matches? [h msg]
  (let [want (get h :event-id)
        ev (get msg :event-id)
        pred (get h :pred)]
    (and (or (= want ev)
             (and (= want :*) (not (system-event? ev))))
         (or (nil? pred)
             (try
               (pred msg)
               (catch :default e
                 (.error js/console "sente-lite: :pred threw" e)
                 false))))))

(defn- dispatch! [client ev-id data]
  (let [msg {:event-id ev-id :data data}
        hs (sort-by (fn [h] (get h :seq)) (vals (get @client :handlers)))]
    (doseq [h hs]
      ;; An earlier callback may have removed it.
      (when (and (contains? (get @client :handlers) (get h :id))
                 (matches? h msg))
        (when (get h :once?)
          (remove-handler! client (get h :id)))
        (safe-call (get h :callback) msg)))))

(defn- fail-pending!
  "Tells every once handler and every send! callback that the connection is gone."
  [client reason]
  (let [s @client
        once (filter (fn [h] (get h :once?)) (vals (get s :handlers)))
        cbs (vals (get s :callbacks))]
    (swap! client assoc :callbacks {})
    (doseq [h (sort-by (fn [h] (get h :seq)) once)]
      (when (remove-handler! client (get h :id))
        (safe-call (get h :callback) {:error :closed :reason reason :handler-id (get h :id)})))
    (doseq [cb cbs]
      (when-let [t (get cb :timer)]
        (js/clearTimeout t))
      (safe-call (get cb :callback) {:error :closed :reason reason}))))

;; ---------------------------------------------------------------- sending

(defn- ws-open? [ws]
  (and (some? ws) (= 1 (.-readyState ws))))

(defn- send-text! [client text]
  (let [ws (get @client :ws)]
    (if-not (ws-open? ws)
      false
      (let [n (byte-length text (min (opt client :warn-message-bytes) (opt client :max-message-bytes)))]
        (cond
          (> n (opt client :max-message-bytes))
          (do (warn (str "not sending a " n "-byte frame: over :max-message-bytes "
                         (opt client :max-message-bytes))
                    (subs text 0 80))
              false)
          :else
          (do (when (> n (opt client :warn-message-bytes))
                (warn (str "sending a large frame (" n " bytes)") (subs text 0 80)))
              (.send ws text)
              true))))))

(defn send!
  "Sends event [:ns/id data]. Returns true if it was handed to the socket, false
  if the socket is not open (nothing is queued) or the frame is too large.
  With opts {:callback f :timeout-ms n} the server is asked for a reply: f gets
  the reply's data, or {:error :timeout}, or {:error :closed}."
  ([client ev] (send! client ev nil))
  ([client ev opts]
   (check-event! ev)
   (let [cb (get opts :callback)]
     (if (nil? cb)
       (send-text! client (pr-str ev))
       (let [cb-id (str "cb-" (next-seq! client) "-" (subs (str (random-uuid)) 0 8))
             ms (or (get opts :timeout-ms) (opt client :callback-timeout-ms))
             timer (when (and ms (pos? ms))
                     (js/setTimeout
                      (fn []
                        (when (contains? (get @client :callbacks) cb-id)
                          (swap! client update :callbacks dissoc cb-id)
                          (safe-call cb {:error :timeout :cb-id cb-id})))
                      ms))]
         (swap! client assoc-in [:callbacks cb-id] {:callback cb :timer timer})
         (if (send-text! client (pr-str [ev cb-id]))
           true
           (do
             (swap! client update :callbacks dissoc cb-id)
             (when timer (js/clearTimeout timer))
             ;; Callbacks always run later, never inside send!.
             (js/setTimeout (fn [] (safe-call cb {:error :closed :reason :not-connected})) 0)
             false)))))))

(defn- channel-opts [opts]
  (when (get opts :callback) opts))

(defn subscribe!
  "Subscribes to channel (a string). The server answers
  [:sente-lite/subscribed {:channel-id c :success true}] (or, with opts
  {:callback f}, calls f with that map). Messages arrive as
  [:sente-lite/channel-msg {:channel-id c :data x :from uid}]."
  ([client channel] (subscribe! client channel nil))
  ([client channel opts]
   (swap! client update :subscriptions conj channel)
   (send! client [:sente-lite/subscribe {:channel-id channel}] (channel-opts opts))))

(defn unsubscribe!
  ([client channel] (unsubscribe! client channel nil))
  ([client channel opts]
   (swap! client update :subscriptions disj channel)
   (send! client [:sente-lite/unsubscribe {:channel-id channel}] (channel-opts opts))))

(defn publish!
  "Publishes data to every subscriber of channel. opts: :exclude-sender? true
  leaves this client out; :callback f gets the server's result map."
  ([client channel data] (publish! client channel data nil))
  ([client channel data opts]
   (send! client
          [:sente-lite/publish {:channel-id channel
                                :data data
                                :exclude-sender? (boolean (get opts :exclude-sender?))}]
          (channel-opts opts))))

;; ---------------------------------------------------------------- receiving

(declare schedule-reconnect! stop-heartbeat! start-heartbeat!)

(defn- handshake! [client data]
  (let [uid (when (sequential? data) (nth data 0 nil))
        csrf (when (sequential? data) (nth data 1 nil))
        hs-data (when (sequential? data) (nth data 2 nil))
        first? (not (get @client :ever-connected?))]
    (swap! client
           (fn [s]
             (-> s
                 (assoc :state :connected :uid uid :csrf csrf :handshake-data hs-data
                        :attempts 0 :ever-connected? true :connected-at (now-ms))
                 (update :reconnects (if first? identity inc)))))
    (when (and (not first?) (opt client :resubscribe?))
      (doseq [ch (get @client :subscriptions)]
        (send! client [:sente-lite/subscribe {:channel-id ch}])))
    (safe-call (opt client :on-open) uid)
    (when-not first?
      (safe-call (opt client :on-reconnect) uid))
    (dispatch! client :chsk/handshake data)))

(defn- on-event! [client ev-id data]
  (cond
    (= ev-id :chsk/ws-ping) (send-text! client "[:chsk/ws-pong]")
    (= ev-id :chsk/ws-pong) nil
    (= ev-id :chsk/handshake) (handshake! client data)
    (= ev-id :chsk/recv) (if (and (vector? data) (keyword? (first data)))
                           (on-event! client (first data) (second data))
                           (warn "ignored a :chsk/recv without an event" data))
    :else (dispatch! client ev-id data)))

(defn- on-reply! [client cb-id data]
  (let [cb (get (get @client :callbacks) cb-id)]
    (if (nil? cb)
      (warn "reply to an unknown or expired callback" cb-id)
      (do
        (swap! client update :callbacks dissoc cb-id)
        (when-let [t (get cb :timer)]
          (js/clearTimeout t))
        (safe-call (get cb :callback) data)))))

(defn- event-vector? [v]
  (and (vector? v) (keyword? (first v))))

(def ^:private edn-opts
  ;; Unknown tagged literals are kept as data instead of failing the frame.
  {:default (fn [tag value] {:tag tag :value value})})

(defn- on-frame! [client text]
  (swap! client assoc :last-recv (now-ms) :ping-sent nil)
  (let [v (try
            (edn/read-string edn-opts text)
            (catch :default e
              (warn "unreadable frame" (str (ex-message e) " in " (subs text 0 80)))
              ::unreadable))]
    (cond
      (= v ::unreadable) nil
      (map? v) (warn "received a map: the retired v1 format; sente-lite v2 sends event vectors" v)
      (not (vector? v)) (warn "ignored a frame that is not a vector" v)
      (empty? v) nil
      ;; [:ok "cb"] and [[:a/b 1] "cb"] read as an event and a callback request
      ;; by shape; answering a pending callback id, they are its reply.
      (and (= 2 (count v))
           (string? (second v))
           (contains? (get @client :callbacks) (second v))) (on-reply! client (second v) (first v))
      (keyword? (first v)) (on-event! client (first v) (second v))
      (and (= 2 (count v)) (string? (second v))) (on-reply! client (second v) (first v))
      :else (doseq [ev v]                ; a batch, in order
              (if (event-vector? ev)
                (on-event! client (first ev) (second ev))
                (warn "ignored a batch element that is not an event" ev))))))

;; ---------------------------------------------------------------- connection

(defn- current? [client conn-no]
  (= conn-no (get @client :conn-no)))

(defn- detach! [ws]
  (set! (.-onopen ws) nil)
  (set! (.-onmessage ws) nil)
  (set! (.-onclose ws) nil)
  (set! (.-onerror ws) nil))

(defn- dropped!
  "The socket ended (or was given up on): fail what waits, tell the app, and
  retry unless close! was called or :reconnect? is false."
  [client info]
  (let [s @client
        ws (get s :ws)
        was-open? (get s :open?)
        again? (and (get (get s :opts) :reconnect?) (not (get s :closed?)))]
    (stop-heartbeat! client)
    (when ws
      (detach! ws)
      (when (< (.-readyState ws) 2)
        (.close ws 4000 "sente-lite: given up")))
    (swap! client assoc :ws nil :open? false :uid nil :state (if again? :connecting :closed))
    (when was-open?
      (fail-pending! client :disconnected)
      (safe-call (opt client :on-close) (assoc info :will-reconnect? again?)))
    (when again?
      (schedule-reconnect! client))))

(defn- batch-url
  "url with batch=1 in its query: this client unwraps batch frames, and sente's
  gateway sends them only to clients that say so. A url that sets batch itself
  is left alone."
  [url]
  (if (re-find #"[?&]batch=" url)
    url
    (let [hash-at (.indexOf url "#")
          base (if (neg? hash-at) url (subs url 0 hash-at))
          frag (if (neg? hash-at) "" (subs url hash-at))]
      (str base (if (neg? (.indexOf base "?")) "?" "&") "batch=1" frag))))

(defn- connect! [client]
  (let [s (swap! client (fn [s] (-> s (update :conn-no inc) (assoc :state :connecting :uid nil :open? false))))
        conn-no (get s :conn-no)
        url (batch-url (get (get s :opts) :url))
        ws (try
             (js/WebSocket. url)
             (catch :default e
               (warn "cannot open a WebSocket" (str url ": " (ex-message e)))
               nil))]
    (if (nil? ws)
      (schedule-reconnect! client)
      (do
        (swap! client assoc :ws ws)
        (set! (.-onopen ws)
              (fn [_]
                (when (current? client conn-no)
                  (swap! client assoc :open? true :last-recv (now-ms) :ping-sent nil)
                  (start-heartbeat! client conn-no))))
        (set! (.-onmessage ws)
              (fn [e]
                (when (current? client conn-no)
                  (on-frame! client (.-data e)))))
        (set! (.-onclose ws)
              (fn [e]
                (when (current? client conn-no)
                  (dropped! client {:code (.-code e) :reason (.-reason e) :clean? (.-wasClean e)}))))
        ;; An error is always followed by close, which does the work.
        (set! (.-onerror ws) (fn [_] nil))))
    client))

(defn- backoff-ms
  "Exponential backoff with jitter: half the capped delay plus a random half."
  [client attempt]
  (let [base (opt client :backoff-base-ms)
        cap (opt client :backoff-max-ms)
        raw (min cap (* base (js/Math.pow 2 (min attempt 30))))]
    (+ (/ raw 2) (* (js/Math.random) (/ raw 2)))))

(defn- schedule-reconnect! [client]
  (when-not (get @client :closed?)
    (let [s (swap! client update :attempts inc)
          delay (backoff-ms client (dec (get s :attempts)))
          timer (js/setTimeout
                 (fn []
                   (swap! client assoc :reconnect-timer nil)
                   (when-not (get @client :closed?)
                     (connect! client)))
                 delay)]
      (swap! client assoc :reconnect-timer timer :retry-in-ms (js/Math.round delay)))))

(defn- stop-heartbeat! [client]
  (when-let [t (get @client :heartbeat)]
    (js/clearInterval t))
  (swap! client assoc :heartbeat nil :ping-sent nil))

(defn- heartbeat-tick! [client conn-no]
  (when (current? client conn-no)
    (let [s @client
          now (now-ms)
          sent (get s :ping-sent)]
      (cond
        (and sent (> (- now sent) (opt client :pong-timeout-ms)))
        (dropped! client {:code 4001 :reason "no pong to [:chsk/ws-ping]" :clean? false})

        (and (nil? sent) (>= (- now (get s :last-recv)) (opt client :ping-interval-ms)))
        (when (send-text! client "[:chsk/ws-ping]")
          (swap! client assoc :ping-sent now))))))

(defn- start-heartbeat! [client conn-no]
  (stop-heartbeat! client)
  (let [every (opt client :ping-interval-ms)]
    (when (and every (pos? every))
      (swap! client assoc :heartbeat
             (js/setInterval (fn [] (heartbeat-tick! client conn-no))
                             (max 250 (min 5000 (quot every 2))))))))

;; ---------------------------------------------------------------- public

(defn make-client!
  "Opens a client and returns it (an atom; deref it only to look). opts:
    :url                 ws://host:port/chsk (required; batch=1 is added to its query)
    :reconnect?          default true; :backoff-base-ms 250, :backoff-max-ms 10000
    :on-open             (fn [uid]) after every handshake, the first and each reconnect
    :on-reconnect        (fn [uid]) after a handshake on a reconnected socket
    :on-close            (fn [{:code :reason :clean? :will-reconnect?}]) when an open socket ends
    :on-message          (fn [event-id data]) every application event (an on! handler for :*)
    :resubscribe?        re-subscribe to subscribe!d channels after a reconnect (default false)
    :ping-interval-ms, :pong-timeout-ms, :callback-timeout-ms, :max-message-bytes
  See default-opts."
  [opts]
  (when-not (string? (get opts :url))
    (throw (ex-info "sente-lite: make-client! needs a :url like ws://host:port/chsk" {:opts opts})))
  (let [client (atom {:opts (merge default-opts opts)
                      :state :connecting
                      :uid nil
                      :csrf nil
                      :seq 0
                      :conn-no 0
                      :attempts 0
                      :reconnects 0
                      :handlers {}
                      :callbacks {}
                      :subscriptions #{}
                      :closed? false})]
    (when-let [f (get opts :on-message)]
      (on! client {:event-id :* :callback (fn [msg] (f (get msg :event-id) (get msg :data)))}))
    (connect! client)))

(defn close!
  "Closes the client for good: no reconnect; once handlers and send! callbacks
  are told {:error :closed}."
  [client]
  (let [s @client
        ws (get s :ws)]
    (when-not (get s :closed?)
      (when-let [t (get s :reconnect-timer)]
        (js/clearTimeout t))
      (stop-heartbeat! client)
      (swap! client assoc :closed? true :state :closed :uid nil :ws nil :open? false :reconnect-timer nil)
      (when ws
        (detach! ws)
        (.close ws 1000 "client closed"))
      (fail-pending! client :closed)
      (when (get s :open?)
        (safe-call (opt client :on-close)
                   {:code 1000 :reason "client closed" :clean? true :will-reconnect? false})))
    nil))

(defn status
  "{:state :connected|:connecting|:closed :uid ... :reconnects n ...}"
  [client]
  (let [s @client]
    {:state (get s :state)
     :uid (get s :uid)
     :reconnects (get s :reconnects)
     :attempts (get s :attempts)
     :url (get (get s :opts) :url)
     :handlers (count (get s :handlers))
     :pending-callbacks (count (get s :callbacks))
     :subscriptions (get s :subscriptions)}))

(defn uid
  "The server-made id of the current connection (nil while not connected). It
  is new on every connection: not an identity."
  [client]
  (get @client :uid))

(defn csrf-token [client]
  (get @client :csrf))

(defn connected? [client]
  (= :connected (get @client :state)))
